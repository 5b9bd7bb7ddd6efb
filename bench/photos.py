"""Photo intelligence benchmark: import end to end, per-image analysis, duplicate detection.

    .venv/bin/python bench/photos.py [--images 1000] [--dup-photos 10000] [--rounds 5] [--no-save]

Corpus: ``--images`` JPEGs at 2048 pixels on the long side (about 3 MP, q88, with EXIF time and
GPS), made once from scikit-image's sample photos (``tests/photos.py`` scenes: random crops,
flips, colour and light changes) and kept under ``bench/results/photos-corpus``.

Measured:

- import end to end, images/s: a loopback HTTP server serves the corpus (its host allow-listed
  for the SSRF guard); ``photo.import`` with one ``photo.analyze`` child per image runs on the
  real engine (SQLite, one in-process worker with ``--concurrency`` work processes, 2 by
  default); the clock runs from submit until the parent job has finished, so job creation,
  claiming, downloads, analysis and the ``photos`` upserts are all inside it. Three setups:
  without the ml extra's models (colour-and-structure embedding, no faces), with mediapipe
  faces, and with faces plus the MobileNetV2 embedding;
- per-image analysis in this process, one core, median ms, beside the anchor: a plain Pillow
  full decode of the same file (``Image.open(...).convert("RGB")``);
- DETECT_DUPLICATES over ``--dup-photos`` photos: the imported corpus's real features plus
  perturbed copies of them (noise that leaves them unrelated, cosine about 0.7, fresh random
  hashes), median over ``--rounds``; and loading that many rows from the ``photos`` table.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import BENCH_DIR, host_load, log, markdown_table, revision, write_result

CORPUS = BENCH_DIR / "results" / "photos-corpus"
SIDE = 2048


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def corpus(n: int) -> list[Path]:
    """``n`` photos under CORPUS (made on first use)."""
    from PIL import Image, ImageEnhance, ImageOps
    from tests.photos import CITIES, START, jpeg, scenes

    CORPUS.mkdir(parents=True, exist_ok=True)
    paths = [CORPUS / f"p{i:05d}.jpg" for i in range(n)]
    missing = [p for p in paths if not p.exists()]
    if not missing:
        return paths
    log(f"making {len(missing)} corpus photos")
    bases = scenes()
    cities = list(CITIES.values())
    for path in missing:
        i = int(path.stem[1:])
        rng = random.Random(i)
        scene = bases[i % len(bases)]
        keep = rng.uniform(0.55, 1.0)
        w, h = round(scene.width * keep), round(scene.height * keep)
        left, top = rng.randint(0, scene.width - w), rng.randint(0, scene.height - h)
        image = scene.crop((left, top, left + w, top + h))
        if rng.random() < 0.5:
            image = ImageOps.mirror(image)
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.6, 1.5))
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.7, 1.3))
        scale = SIDE / max(image.size)
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR
        )
        lat, lon = cities[(i // 50) % len(cities)]
        taken = START + timedelta(hours=i // 50 * 30, minutes=i % 50 * 7)
        path.write_bytes(jpeg(image, taken_at=taken, gps=(lat, lon), quality=88))
    return paths


def import_rate(paths: list[Path], *, concurrency: int, embedding: str, faces: bool) -> tuple[float, int]:
    """Images/s for one import of ``paths`` on a fresh SQLite database, and how many were indexed."""
    from sqlalchemy import func, select
    from tests.conftest import make_settings

    from mediaforge.db.migrate import migrate
    from mediaforge.engine.worker import Worker
    from mediaforge.jobs import service as jobs
    from mediaforge.jobs.models import Job
    from mediaforge.photos.models import Photo
    from mediaforge.photos.service import ImportImage, ImportParams, import_job
    from mediaforge.runtime import Runtime

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(paths[0].parent)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{httpd.server_port}"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        settings = make_settings(
            Path(tmp),
            url,
            fetch_allow_hosts=host,
            photos_embedding=embedding,
            photos_faces=faces,
            log_level="WARNING",
            lease_seconds=30.0,
            sweep_interval_seconds=5.0,
        )
        rt = Runtime.from_settings(settings)
        worker = Worker(rt, concurrency=concurrency)
        worker.start()
        try:
            images = [ImportImage(image_id=p.stem, download_uri=f"http://{host}/{p.name}") for p in paths]
            params = ImportParams(user_id="bench", images=images)
            started = time.perf_counter()
            with rt.db.session() as session:
                job, _ = jobs.create(
                    session,
                    "bench",
                    import_job(params, settings=settings),
                    registry=rt.registry,
                    settings=settings,
                )
                job_id = job.id
            while True:
                # The status only: the parent's params list every image, and decoding them 20
                # times a second would take the worker's GIL from it.
                with rt.db.session(read_only=True) as session:
                    status = session.scalar(select(Job.status).where(Job.id == job_id))
                if status in ("succeeded", "failed"):
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            with rt.db.session(read_only=True) as session:
                indexed = int(session.scalar(select(func.count()).select_from(Photo)) or 0)
        finally:
            worker.stop(drain_timeout=10)
            rt.close()
            httpd.shutdown()
            httpd.server_close()
    return len(paths) / elapsed, indexed


def per_image(paths: list[Path]) -> tuple[float, float]:
    """Median ms of analyze_file (no faces, colour) and of a full Pillow decode, same files."""
    from PIL import Image

    from mediaforge.photos.features import AnalyzeOptions, analyze_file

    analyze_file(paths[0], AnalyzeOptions(faces=False))  # loads the geocoder once
    ours, anchor = [], []
    for path in paths:
        t = time.perf_counter()
        analyze_file(path, AnalyzeOptions(faces=False))
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        with Image.open(path) as image:
            image.convert("RGB")
        anchor.append(time.perf_counter() - t)
    return statistics.median(ours) * 1000, statistics.median(anchor) * 1000


def duplicates(paths: list[Path], n: int, rounds: int) -> tuple[float, float, int, int]:
    """Median seconds of find_duplicates over ``n`` photos, load seconds of ``n`` rows, groups, pairs."""
    from tests.conftest import make_settings

    from mediaforge.db.migrate import migrate
    from mediaforge.photos.duplicates import Thresholds, duplicate_pairs, find_duplicates
    from mediaforge.photos.features import AnalyzeOptions, analyze_file
    from mediaforge.photos.index import PhotoIndex
    from mediaforge.photos.photoset import PhotoSet
    from mediaforge.runtime import Runtime

    base = [analyze_file(p, AnalyzeOptions(faces=False)) for p in paths[: min(len(paths), 1000)]]
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n):
        source = base[i % len(base)]
        row = dict(vars(source), image_id=f"d{i:06d}", sha256=f"{i:064x}")
        if i >= len(base):
            noisy = np.abs(source.vector + rng.normal(0, 0.08, source.vector.shape)).astype(np.float32)
            row["vector"] = noisy / np.linalg.norm(noisy)
            row["phash"] = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
            row["taken_at"] = None
        rows.append(row)
    photos = PhotoSet.from_rows(rows)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        result = find_duplicates(photos, Thresholds())
        times.append(time.perf_counter() - t)
    pairs = len(duplicate_pairs(photos, Thresholds()))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/load.db"
        migrate(url)
        rt = Runtime.from_settings(make_settings(Path(tmp), url, log_level="WARNING"))
        from mediaforge.photos.features import PhotoFeatures

        with rt.db.session() as session:
            index = PhotoIndex(session)
            for row in rows:
                fields = {k: v for k, v in row.items() if k != "image_id"}
                index.upsert("bench", "bench", row["image_id"], PhotoFeatures(**fields))
        t = time.perf_counter()
        with rt.db.session(read_only=True) as session:
            loaded = PhotoIndex(session).load("bench", "bench")
        load_seconds = time.perf_counter() - t
        rt.close()
    assert len(loaded) == n
    return statistics.median(times), load_seconds, len(result["groups"]), pairs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--ml-images", type=int, default=300, help="Images for the ml setups (slower).")
    parser.add_argument("--dup-photos", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    load = host_load()
    paths = corpus(args.images)
    log("per-image analysis")
    ours_ms, anchor_ms = per_image(paths[:100])
    setups = [
        ("no ml extra: colour-and-structure embedding, no faces", "colour", False, paths),
        ("+ mediapipe faces", "colour", True, paths[: args.ml_images]),
        ("+ faces + MobileNetV2 embedding", "mobilenet", True, paths[: args.ml_images]),
    ]
    rows = []
    for label, embedding, faces, chosen in setups:
        log(f"import {len(chosen)}: {label}")
        rate, indexed = import_rate(chosen, concurrency=args.concurrency, embedding=embedding, faces=faces)
        rows.append(
            [f"import end to end, {label}", f"{len(chosen)} images", f"{rate:.1f} images/s", f"{indexed}"]
        )
    log(f"duplicates over {args.dup_photos}")
    seconds, load_seconds, groups, pairs = duplicates(paths, args.dup_photos, args.rounds)
    rows.append(["per-image analysis, one core (median)", "100 images", f"{ours_ms:.1f} ms", ""])
    rows.append(
        ["anchor: Pillow full decode of the same files (median)", "100 images", f"{anchor_ms:.1f} ms", ""]
    )
    rows.append(
        [
            f"DETECT_DUPLICATES (median of {args.rounds})",
            f"{args.dup_photos} photos",
            f"{seconds:.2f} s",
            f"{groups} groups, {pairs} pairs",
        ]
    )
    rows.append(
        ["load the photos rows as arrays (SQLite)", f"{args.dup_photos} photos", f"{load_seconds:.2f} s", ""]
    )
    table = markdown_table(["measure", "input", "result", "indexed / found"], rows)
    setup = f"{args.concurrency} work processes; corpus {SIDE} px JPEG q88"
    text = f"{table}\n\nrevision {revision()}; {load}; {setup}\n"
    print(text)
    if not args.no_save:
        log(f"saved {write_result('photos', text)}")


if __name__ == "__main__":
    main()
