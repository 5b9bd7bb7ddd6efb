"""Image engine benchmark: ``mediaforge.imaging`` against sharp (npm), same photographs, one run.

    .venv/bin/python bench/images.py [--rounds 3] [--no-save]

The photographs are the colour photos that ship inside the scikit-image wheel (astronaut, chelsea,
coffee, motorcycle, rocket, Hubble deep field). The first run fetches that wheel with pip (the
ordinary client, ``--no-deps``) and keeps the files under ``bench/results/corpus``, each made once
into plain 8-bit sRGB (an embedded ICC profile applied, as both engines would apply it; then no
profile or metadata), so both engines encode the very pixels SSIM is measured against (rocket is
tagged Adobe RGB). Sharp comes from ``bench/sharp`` (``npm install`` there once; libvips 8.18 on
both sides).

Every comparison is like for like, per tier: mediaforge's ``effort`` against the sharp settings
that do the same work (``bench/sharp/bench.js`` holds sharp's side and reports the call it made):

- ``fast`` (mediaforge's default) against sharp's defaults: baseline JPEG with optimised Huffman
  tables and no trellis (``jpeg()``), WebP effort 4 (``webp()``), AVIF effort 4 (``avif()``;
  mediaforge: up to 4, libaom tuned for SSIM);
- ``thorough`` against sharp's slower, smaller settings: mozjpeg trellis quantisation and
  progressive scans (``jpeg({mozjpeg: true})``, which also searches the scan layout and uses
  overshoot deringing and quantisation table 3), WebP effort 6 with smart deblocking
  (``webp({effort: 6, smartDeblock: true})``), AVIF effort 6 (``avif({effort: 6})``; mediaforge:
  up to 6).

sharp's AVIF keeps its own defaults in both tiers: 4:4:4 chroma (libvips, and so mediaforge,
subsamples to 4:2:0 below Q 90) and libvips' automatic libaom tuning.

Measured, each side in its own long-lived worker process:

- throughput (median over rounds of files / total seconds; after an untimed warm-up pass each,
  the two sides run the same task and tier back to back in each round, repeating the photo set
  until the round lasts about a second), sequential, one image at a time, from q95 JPEG sources, every
  task in both tiers: resize to 256 wide + JPEG q80, and full-size JPEG q80, WebP q80, AVIF q50.
  mediaforge runs its whole ``optimize`` call (sniff, header checks, decode, encode, result) with
  an AVIF budget of 600 CPU s, so the tier's effort, not the clock, decides; sharp runs
  ``sharp(file)...toFile()``;
- peak RSS of each worker process after all of it;
- bytes at equal SSIM, from the lossless originals, one table per tier. The target is the SSIM of
  that tier's own JPEG q80 (fast: plain libjpeg q80, the settings of sharp's default JPEG and what
  most published comparisons mean by "JPEG q80"; thorough: mediaforge's mozjpeg-style q80);
  mediaforge's WebP and AVIF of the same tier are searched (``min_ssim``) for the smallest file at
  or above it, and savings are against that JPEG. The fast table also shows sharp's default JPEG
  q80 (size and SSIM) and sharp's default WebP and AVIF searched to the same target (a binary
  search over sharp's quality), saved against mediaforge's fast JPEG. SSIM is mediaforge's own
  (luma, Gaussian window), measured the same way for both sides.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, ROOT, host_load, log, markdown_table, revision, write_result

SKIMAGE = "scikit-image==0.26.0"
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "hubble_deep_field.jpg",
)
CORPUS = BENCH_DIR / "results" / "corpus"
SRGB = CORPUS / "srgb"  # the sources both sides read: profile applied, no metadata
SHARP_DIR = BENCH_DIR / "sharp"
MAX_PIXELS = 100_000_000
TASKS: dict[str, tuple[str, dict[str, Any]]] = {
    "resize": ("resize to 256 wide, JPEG q80", {"format": "jpg", "width": 256, "quality": 80}),
    "jpeg": ("JPEG q80", {"format": "jpg", "quality": 80}),
    "webp": ("WebP q80", {"format": "webp", "quality": 80}),
    "avif": ("AVIF q50", {"format": "avif", "quality": 50, "avif_cpu_budget_s": 600}),
}
TIERS = ("fast", "thorough")
"""mediaforge's ``effort`` values; bench.js maps each to sharp's settings for the same work."""
ROUND_SECONDS = 1.0
"""Each timed round repeats the photo set until it has run about this long (on our side)."""
AVIF_SEARCH = {"avif_cpu_budget_s": 600}  # a generous budget: the planner's effort, not the clock


# --- the corpus ------------------------------------------------------------------------------
def corpus() -> tuple[list[Path], list[Path]]:
    """(q95 JPEG sources for throughput, lossless PNG originals for SSIM), made once and kept."""
    from mediaforge.imaging._vips import pyvips

    originals = CORPUS / "originals"
    if not all((originals / name).exists() for name in PHOTOS):
        _extract_photos(originals)
    jpegs, pngs = [], []
    for name in PHOTOS:
        stem = Path(name).stem
        jpeg, png = SRGB / f"{stem}.jpg", SRGB / f"{stem}.png"
        if not (jpeg.exists() and png.exists()):
            SRGB.mkdir(parents=True, exist_ok=True)
            image = pyvips.Image.new_from_file(str(originals / name))
            if image.get_typeof("icc-profile-data"):
                image = image.icc_transform("srgb", embedded=True, intent="relative")
            image = image.colourspace("srgb").cast("uchar")
            image.pngsave(str(png), keep=0)
            image.jpegsave(str(jpeg), Q=95, keep=0)
        jpegs.append(jpeg)
        pngs.append(png)
    return jpegs, pngs


def _extract_photos(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        log(f"fetching {SKIMAGE} with pip for its sample photographs")
        argv = [
            sys.executable,
            "-m",
            "pip",
            "download",
            SKIMAGE,
            "--no-deps",
            "--only-binary",
            ":all:",
            "-d",
            tmp,
        ]
        subprocess.run(argv, check=True, capture_output=True, timeout=600)
        wheel = next(Path(tmp).glob("scikit_image-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in PHOTOS:
                (target / name).write_bytes(archive.read(f"skimage/data/{name}"))


# --- the two workers -------------------------------------------------------------------------
class Worker:
    """A long-lived worker process speaking one JSON line per command."""

    def __init__(self, name: str, argv: list[str], cwd: Path) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )

    def ask(self, **command: Any) -> Any:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"{self.name}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def python_worker() -> None:
    """The mediaforge side: ``optimize`` per file, timed, in this process (``--worker``)."""
    for line in sys.stdin:
        try:
            answer = _answer(json.loads(line))
        except Exception as exc:  # the harness raises it, with the worker still alive
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


def _answer(command: dict[str, Any]) -> dict[str, Any]:
    from mediaforge.imaging import OptimizeParams, optimize

    if command["op"] == "rss":
        return {"max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    if command["op"] == "time":
        params = OptimizeParams(**TASKS[command["task"]][1], effort=command["tier"])
        work = Path(command["out"])
        ms, sizes = [], []
        for file in command["files"]:
            started = time.perf_counter()
            done = optimize(Path(file), params, work_dir=work, max_pixels=MAX_PIXELS)
            ms.append((time.perf_counter() - started) * 1000)
            if done.result["fallback"]:
                raise RuntimeError(f"{file}: {done.result['fallback']}")
            sizes.append(done.result["output_size"])
        return {"ms": ms, "bytes": sizes}
    if command["op"] == "optimize":
        params = OptimizeParams(**command["params"])
        done = optimize(Path(command["file"]), params, work_dir=Path(command["out"]), max_pixels=MAX_PIXELS)
        return {"path": str(done.path), **done.result}
    raise ValueError(f"unknown op {command['op']}")


# --- measurements ----------------------------------------------------------------------------
def throughput(ours: Worker, sharp: Worker, files: list[Path], rounds: int, out: Path) -> list[list[str]]:
    """One row per task and tier: median files/s of each side over ``rounds``, and the bytes written."""
    rows = []
    names = [str(f) for f in files]
    for task, (label, _) in TASKS.items():
        for tier in TIERS:
            ours_rates, sharp_rates = [], []
            log(f"{task} ({tier}): warm-up")
            warm = ours.ask(op="time", task=task, tier=tier, files=names, out=str(out))
            sharp.ask(op="time", task=task, tier=tier, files=names, out=str(out))
            batch = names * max(1, math.ceil(ROUND_SECONDS * 1000 / sum(warm["ms"])))
            for round_ in range(rounds):
                log(f"{task} ({tier}): round {round_ + 1}/{rounds}, {len(batch) // len(names)} passes")
                mine = ours.ask(op="time", task=task, tier=tier, files=batch, out=str(out))
                theirs = sharp.ask(op="time", task=task, tier=tier, files=batch, out=str(out))
                ours_rates.append(len(batch) / (sum(mine["ms"]) / 1000))
                sharp_rates.append(len(batch) / (sum(theirs["ms"]) / 1000))
            ours_rate, sharp_rate = statistics.median(ours_rates), statistics.median(sharp_rates)
            ratio = ours_rate / sharp_rate
            rows.append(
                [
                    label,
                    tier,
                    f"`{theirs['call']}`",
                    f"{ours_rate:.1f}",
                    f"{sharp_rate:.1f}",
                    f"{ratio:.2f}x {'✓' if ratio >= 0.9 else '✗'}",
                    f"{sum(mine['bytes'][: len(names)]) / 1024:.0f}",
                    f"{sum(theirs['bytes'][: len(names)]) / 1024:.0f}",
                ]
            )
    return rows


Score = Callable[[str], float]


def equal_ssim(ours: Worker, sharp: Worker, originals: list[Path], out: Path) -> dict[str, list[list[str]]]:
    """Per tier, the rows of its equal-SSIM table (one per photo, then the medians)."""
    from mediaforge.imaging import luma, ssim
    from mediaforge.imaging._vips import pyvips

    rows: dict[str, list[list[str]]] = {tier: [] for tier in TIERS}
    saved: dict[str, list[list[float]]] = {tier: [] for tier in TIERS}
    sharp_saved: list[list[float]] = []
    for png in originals:
        log(f"equal SSIM: {png.stem}")
        reference = luma(pyvips.Image.new_from_file(str(png)))

        def score(path: str, reference: Any = reference) -> float:
            return ssim(reference, pyvips.Image.new_from_file(path, access="random"))

        for tier in TIERS:
            target, base, cells, tier_saved = _ours_at_target(ours, png, tier, score, out)
            rows[tier].append([png.stem, *cells])
            saved[tier].append(tier_saved)
            if tier == "fast":
                sharp_cells, sharp_tier_saved = _sharp_at_target(sharp, png, target, base, score, out)
                rows[tier][-1].extend(sharp_cells)
                sharp_saved.append(sharp_tier_saved)
    for tier in TIERS:
        webp, avif = (statistics.median(column) for column in zip(*saved[tier], strict=True))
        median = ["**median saved**", "", "", f"**{webp:.0%}** (goal ≥ 30%)", f"**{avif:.0%}** (goal ≥ 45%)"]
        if tier == "fast":
            median += ["", *(f"{statistics.median(column):.0%}" for column in zip(*sharp_saved, strict=True))]
        rows[tier].append(median)
    return rows


def _ours_at_target(
    ours: Worker, png: Path, tier: str, score: Score, out: Path
) -> tuple[float, int, list[str], list[float]]:
    """(target SSIM, JPEG bytes, table cells, WebP and AVIF saved) for mediaforge at one tier."""
    jpeg = _optimize(ours, png, {"format": "jpg", "quality": 80, "effort": tier}, out)
    target, base = score(jpeg["path"]), jpeg["output_size"]
    cells, saved = [f"{target:.4f}", f"{base / 1024:.1f}"], []
    for fmt, extra in (("webp", {}), ("avif", AVIF_SEARCH)):
        found = _optimize(ours, png, {"format": fmt, "min_ssim": target, "effort": tier, **extra}, out)
        saved.append(1 - found["output_size"] / base)
        reached = found["target_met"] and score(found["path"]) >= target  # measured here too
        missed = "" if reached else ", below target"
        cells.append(f"{found['output_size'] / 1024:.1f} ({saved[-1]:.0%}{missed})")
    return target, base, cells, saved


def _optimize(ours: Worker, png: Path, params: dict[str, Any], out: Path) -> dict[str, Any]:
    answer: dict[str, Any] = ours.ask(op="optimize", file=str(png), params=params, out=str(out))
    if answer["fallback"]:
        raise RuntimeError(f"{png.name} {params}: {answer['fallback']}")
    return answer


def _sharp_at_target(
    sharp: Worker, png: Path, target: float, base: int, score: Score, out: Path
) -> tuple[list[str], list[float]]:
    """sharp's default JPEG q80 (KiB, SSIM), and its default WebP and AVIF searched to ``target``."""
    jpeg = out / f"sharp-{png.stem}-q80.jpg"
    jpeg_bytes = sharp.ask(op="encode", file=str(png), format="jpeg", quality=80, out=str(jpeg))["bytes"]
    cells, saved = [f"{jpeg_bytes / 1024:.1f} ({score(str(jpeg)):.4f})"], []
    for fmt in ("webp", "avif"):
        size, quality = _sharp_search(sharp, png, fmt, target, score, out)
        saved.append(1 - size / base)
        cells.append(f"{size / 1024:.1f} (q{quality}, {saved[-1]:.0%})")
    return cells, saved


def _sharp_search(
    sharp: Worker, png: Path, fmt: str, target: float, score: Score, out: Path
) -> tuple[int, int]:
    """(bytes, quality) of sharp's smallest default ``fmt`` encoding whose SSIM reaches ``target``."""
    found: dict[int, tuple[int, float]] = {}

    def trial(quality: int) -> tuple[int, float]:
        if quality not in found:
            path = out / f"sharp-{png.stem}-{fmt}-{quality}.{fmt}"
            size = sharp.ask(op="encode", file=str(png), format=fmt, quality=quality, out=str(path))
            found[quality] = (size["bytes"], score(str(path)))
        return found[quality]

    low, high = 1, 100
    while low < high:
        middle = (low + high) // 2
        if trial(middle)[1] >= target:
            high = middle
        else:
            low = middle + 1
    return trial(low)[0], low


# --- the run ---------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per task and side")
    parser.add_argument("--no-save", action="store_true", help="print only; do not write bench/results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        python_worker()
        return
    if not (SHARP_DIR / "node_modules" / "sharp").exists():
        sys.exit(f"sharp is not installed: run `npm install` in {SHARP_DIR}")
    jpegs, pngs = corpus()
    start_load = host_load()
    ours = Worker("mediaforge", [sys.executable, __file__, "--worker"], ROOT)
    sharp = Worker("sharp", ["node", "bench.js"], SHARP_DIR)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            versions = sharp.ask(op="versions")
            speed = throughput(ours, sharp, jpegs, args.rounds, Path(tmp))
            rss = (ours.ask(op="rss")["max_rss_kb"], sharp.ask(op="rss")["max_rss_kb"])
            sizes = equal_ssim(ours, sharp, pngs, Path(tmp))
    finally:
        ours.close()
        sharp.close()
    text = report(jpegs, speed, rss, sizes, versions, start_load)
    print(text)
    if not args.no_save:
        log(f"saved {write_result('images', text)}")


def report(
    jpegs: list[Path],
    speed: list[list[str]],
    rss: tuple[int, int],
    sizes: dict[str, list[list[str]]],
    versions: dict[str, str],
    start_load: str,
) -> str:
    from mediaforge.imaging._vips import pyvips

    dims = []
    for path in jpegs:
        image = pyvips.Image.new_from_file(str(path))
        dims.append(f"{path.stem} {image.width}x{image.height}")
    header = [
        f"# Images: mediaforge vs sharp ({time.strftime('%Y-%m-%d')})",
        "",
        f"- commit {revision()}; {platform.machine()}, {os.cpu_count()} CPUs; {start_load} at start",
        f"- mediaforge: pyvips {pyvips.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}"
        f".{pyvips.version(2)}; sharp {versions.get('sharp')}, libvips {versions.get('vips')}"
        f", node {versions.get('node')}",
        f"- photos (scikit-image {SKIMAGE.split('==')[1]}): {', '.join(dims)}",
        "",
    ]
    throughput_table = markdown_table(
        ["operation (6 photos, one at a time)", "mediaforge effort", "sharp ran", "mediaforge ops/s",
         "sharp ops/s", "ratio (goal ≥ 0.9)", "mediaforge KiB", "sharp KiB"],
        speed,
    )  # fmt: skip
    rss_table = markdown_table(
        ["peak RSS of the worker process", "mediaforge", "sharp"],
        [["after every throughput run", f"{rss[0] / 1024:.0f} MiB", f"{rss[1] / 1024:.0f} MiB"]],
    )
    ours_columns = ["mf WebP KiB (saved)", "mf AVIF KiB (saved)"]
    fast_table = markdown_table(
        ["photo", "target SSIM", "mf JPEG q80 KiB", *ours_columns, "sharp JPEG q80 KiB (SSIM)",
         "sharp WebP at target", "sharp AVIF at target"],
        sizes["fast"],
    )  # fmt: skip
    thorough_table = markdown_table(
        ["photo", "target SSIM", "mf JPEG q80 KiB", *ours_columns], sizes["thorough"]
    )
    return "\n".join(
        [
            *header,
            throughput_table,
            "",
            rss_table,
            "",
            "Equal SSIM, `effort: fast`: the baseline is plain libjpeg q80 (optimised Huffman tables, "
            "no trellis, baseline scans: sharp's default JPEG settings); sharp's WebP and AVIF at its "
            "defaults.",
            "",
            fast_table,
            "",
            "Equal SSIM, `effort: thorough`: the baseline is mediaforge's mozjpeg-style q80 (trellis "
            "quantisation, progressive).",
            "",
            thorough_table,
            "",
        ]
    )


if __name__ == "__main__":
    main()
