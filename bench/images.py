"""Image engine benchmark: ``mediaforge.imaging`` against sharp (npm), same photographs, one run.

    .venv/bin/python bench/images.py [--rounds 3] [--no-save]

The photographs are the colour photos that ship inside the scikit-image wheel (astronaut, chelsea,
coffee, motorcycle, rocket, Hubble deep field). The first run fetches that wheel with pip (the
ordinary client, ``--no-deps``) and keeps the files under ``bench/results/corpus``. Sharp comes
from ``bench/sharp`` (``npm install`` there once; libvips 8.18 on both sides).

Measured, each side in its own long-lived worker process, rounds interleaved side by side:

- throughput (median over rounds of files / total seconds), sequential, one image at a time:
  resize to 256 wide + JPEG q80, and full-size compression to JPEG q80, WebP q80, AVIF q50 from
  q95 JPEG sources. mediaforge runs its whole ``optimize`` call (sniff, header checks, decode,
  encode, result) with its defaults (mozjpeg trellis for JPEG, AVIF effort up to 4 within a
  generous budget); sharp runs ``sharp(file)...toFile()`` with its defaults, plus ``mozjpeg: true``
  for a like-for-like JPEG row;
- peak RSS of each worker process after all of it;
- bytes at equal SSIM, from the lossless originals: the SSIM of mediaforge's JPEG q80 is the
  target; WebP and AVIF are searched (mediaforge's ``min_ssim`` mode; the same binary search over
  sharp's quality for sharp) for the smallest file at or above it. SSIM is mediaforge's own
  (luma, Gaussian window), measured the same way for both sides. A second table does the same
  against plain libjpeg q80 (sharp's default JPEG: libjpeg-turbo, optimised Huffman tables, no
  trellis), the baseline most tools and published comparisons mean by "JPEG q80".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
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
SHARP_DIR = BENCH_DIR / "sharp"
MAX_PIXELS = 100_000_000
TASKS = {
    "resize": ("resize to 256 wide, JPEG q80", {"format": "jpg", "width": 256, "quality": 80}),
    "jpeg": ("JPEG q80", {"format": "jpg", "quality": 80}),
    "jpeg-mozjpeg": ("JPEG q80 (sharp `mozjpeg: true`)", {"format": "jpg", "quality": 80}),
    "webp": ("WebP q80", {"format": "webp", "quality": 80}),
    "avif": ("AVIF q50", {"format": "avif", "quality": 50, "avif_cpu_budget_s": 600}),
}


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
        jpeg, png = CORPUS / f"{stem}.jpg", CORPUS / f"{stem}.png"
        if not (jpeg.exists() and png.exists()):
            image = pyvips.Image.new_from_file(str(originals / name)).colourspace("srgb")
            image.pngsave(str(png))
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
    from mediaforge.imaging import OptimizeParams, optimize

    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "rss":
            answer: Any = {"max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        elif command["op"] == "time":
            params = OptimizeParams(**TASKS[command["task"]][1])
            work = Path(command["out"])
            ms, sizes = [], []
            for file in command["files"]:
                started = time.perf_counter()
                done = optimize(Path(file), params, work_dir=work, max_pixels=MAX_PIXELS)
                ms.append((time.perf_counter() - started) * 1000)
                sizes.append(done.result["output_size"])
            answer = {"ms": ms, "bytes": sizes}
        elif command["op"] == "optimize":
            params = OptimizeParams(**command["params"])
            done = optimize(
                Path(command["file"]), params, work_dir=Path(command["out"]), max_pixels=MAX_PIXELS
            )
            answer = {"path": str(done.path), **done.result}
        else:
            answer = {"error": f"unknown op {command['op']}"}
        print(json.dumps(answer), flush=True)


# --- measurements ----------------------------------------------------------------------------
def throughput(ours: Worker, sharp: Worker, files: list[Path], rounds: int, out: Path) -> list[list[str]]:
    rows = []
    names = [str(f) for f in files]
    for task, (label, _) in TASKS.items():
        ours_rates, sharp_rates, ours_bytes, sharp_bytes = [], [], [], []
        our_task = "jpeg" if task == "jpeg-mozjpeg" else task
        for round_ in range(rounds):
            log(f"{task}: round {round_ + 1}/{rounds}")
            mine = ours.ask(op="time", task=our_task, files=names, out=str(out))
            theirs = sharp.ask(op="time", task=task, files=names, out=str(out))
            ours_rates.append(len(files) / (sum(mine["ms"]) / 1000))
            sharp_rates.append(len(files) / (sum(theirs["ms"]) / 1000))
            ours_bytes, sharp_bytes = mine["bytes"], theirs["bytes"]
        ours_rate, sharp_rate = statistics.median(ours_rates), statistics.median(sharp_rates)
        ratio = ours_rate / sharp_rate
        rows.append(
            [
                label,
                f"{ours_rate:.1f}",
                f"{sharp_rate:.1f}",
                f"{ratio:.2f}x {'✓' if ratio >= 0.9 else '✗'}",
                f"{sum(ours_bytes) / 1024:.0f}",
                f"{sum(sharp_bytes) / 1024:.0f}",
            ]
        )
    return rows


AVIF_SEARCH = {"avif_cpu_budget_s": 600}  # a generous budget: the planner's effort, not the clock


def equal_ssim(
    ours: Worker, sharp: Worker, originals: list[Path], out: Path
) -> tuple[list[list[str]], list[str], list[list[str]]]:
    from mediaforge.imaging import luma, ssim
    from mediaforge.imaging._vips import pyvips

    rows, webp_savings, avif_savings, sharp_webp_savings, sharp_avif_savings = [], [], [], [], []
    plain_rows: list[list[str]] = []
    plain_savings: tuple[list[float], list[float]] = ([], [])
    for png in originals:
        log(f"equal SSIM: {png.stem}")
        reference = luma(pyvips.Image.new_from_file(str(png)))

        def score(path: str, reference: Any = reference) -> float:
            return ssim(reference, pyvips.Image.new_from_file(path, access="random"))

        jpeg = ours.ask(op="optimize", file=str(png), params={"format": "jpg", "quality": 80}, out=str(out))
        target = score(jpeg["path"])
        webp = ours.ask(
            op="optimize", file=str(png), params={"format": "webp", "min_ssim": target}, out=str(out)
        )
        avif_params = {"format": "avif", "min_ssim": target, **AVIF_SEARCH}
        avif = ours.ask(op="optimize", file=str(png), params=avif_params, out=str(out))
        sharp_jpeg = out / f"sharp-{png.stem}-q80.jpg"
        sharp_jpeg_bytes = sharp.ask(
            op="encode", file=str(png), format="jpeg", quality=80, out=str(sharp_jpeg)
        )
        sharp_webp = _sharp_search(sharp, png, "webp", target, score, out)
        sharp_avif = _sharp_search(sharp, png, "avif", target, score, out)
        plain_target, plain_base = score(str(sharp_jpeg)), sharp_jpeg_bytes["bytes"]
        plain_row = [png.stem, f"{plain_target:.4f}", f"{plain_base / 1024:.1f}"]
        for fmt, extra, savings in (("webp", {}, plain_savings[0]), ("avif", AVIF_SEARCH, plain_savings[1])):
            params = {"format": fmt, "min_ssim": plain_target, **extra}
            found = ours.ask(op="optimize", file=str(png), params=params, out=str(out))
            savings.append(1 - found["output_size"] / plain_base)
            plain_row.append(f"{found['output_size'] / 1024:.1f} ({savings[-1]:.0%})")
        plain_rows.append(plain_row)
        base = jpeg["output_size"]
        saved = [1 - webp["output_size"] / base, 1 - avif["output_size"] / base]
        sharp_saved = [1 - sharp_webp[0] / base, 1 - sharp_avif[0] / base]
        webp_savings.append(saved[0])
        avif_savings.append(saved[1])
        sharp_webp_savings.append(sharp_saved[0])
        sharp_avif_savings.append(sharp_saved[1])
        rows.append(
            [
                png.stem,
                f"{target:.4f}",
                f"{base / 1024:.1f}",
                f"{webp['output_size'] / 1024:.1f} ({saved[0]:.0%})",
                f"{avif['output_size'] / 1024:.1f} ({saved[1]:.0%})",
                f"{sharp_jpeg_bytes['bytes'] / 1024:.1f} ({score(str(sharp_jpeg)):.4f})",
                f"{sharp_webp[0] / 1024:.1f} (q{sharp_webp[1]}, {sharp_saved[0]:.0%})",
                f"{sharp_avif[0] / 1024:.1f} (q{sharp_avif[1]}, {sharp_saved[1]:.0%})",
            ]
        )
    medians = [
        f"{statistics.median(webp_savings):.0%}",
        f"{statistics.median(avif_savings):.0%}",
        f"{statistics.median(sharp_webp_savings):.0%}",
        f"{statistics.median(sharp_avif_savings):.0%}",
    ]
    plain_rows.append(
        ["**median saved**", "", "", *(f"**{statistics.median(s):.0%}**" for s in plain_savings)]
    )
    return rows, medians, plain_rows


def _sharp_search(
    sharp: Worker, png: Path, fmt: str, target: float, score: Any, out: Path
) -> tuple[int, int]:
    """(bytes, quality) of sharp's smallest ``fmt`` encoding whose SSIM reaches ``target``."""
    found: dict[int, tuple[int, float]] = {}

    def trial(quality: int) -> tuple[int, float]:
        if quality not in found:
            path = out / f"sharp-{png.stem}-{fmt}-{quality}"
            size = sharp.ask(
                op="encode", file=str(png), format=fmt, quality=quality, out=str(path) + f".{fmt}"
            )
            found[quality] = (size["bytes"], score(str(path) + f".{fmt}"))
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
            sizes, medians, plain = equal_ssim(ours, sharp, pngs, Path(tmp))
    finally:
        ours.close()
        sharp.close()
    text = report(jpegs, speed, rss, sizes, medians, plain, versions, start_load)
    print(text)
    if not args.no_save:
        log(f"saved {write_result('images', text)}")


def report(
    jpegs: list[Path],
    speed: list[list[str]],
    rss: tuple[int, int],
    sizes: list[list[str]],
    medians: list[str],
    plain: list[list[str]],
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
        ["operation (6 photos, one at a time)", "mediaforge ops/s", "sharp ops/s", "ratio (goal ≥ 0.9)",
         "mediaforge KiB", "sharp KiB"],
        speed,
    )  # fmt: skip
    rss_table = markdown_table(
        ["peak RSS of the worker process", "mediaforge", "sharp"],
        [["after every throughput run", f"{rss[0] / 1024:.0f} MiB", f"{rss[1] / 1024:.0f} MiB"]],
    )
    size_table = markdown_table(
        ["photo", "target SSIM", "mf JPEG q80 KiB", "mf WebP KiB (saved)", "mf AVIF KiB (saved)",
         "sharp JPEG q80 KiB (SSIM)", "sharp WebP at target", "sharp AVIF at target"],
        [*sizes, ["**median saved**", "", "", f"**{medians[0]}** (goal ≥ 30%)",
                  f"**{medians[1]}** (goal ≥ 45%)", "", medians[2], medians[3]]],
    )  # fmt: skip
    plain_table = markdown_table(
        ["photo", "target SSIM (libjpeg q80)", "libjpeg q80 KiB", "mf WebP KiB (saved, goal ≥ 30%)",
         "mf AVIF KiB (saved, goal ≥ 45%)"],
        plain,
    )  # fmt: skip
    return "\n".join([*header, throughput_table, "", rss_table, "", size_table, "", plain_table, ""])


if __name__ == "__main__":
    main()
