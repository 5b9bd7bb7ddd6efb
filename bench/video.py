"""Video annotation benchmark: the four ``video.*`` pipelines on a 720p clip, PySceneDetect beside them.

    .venv/bin/python bench/video.py [--seconds 30] [--rounds 3] [--no-save]

The clip (made once, kept under ``bench/results/corpus``): 1280x720, 25 fps, H.264 (libx264
preset medium, CRF 23, as a typical web upload) with AAC sound. Six shots of 5 s, each a photo
from the scikit-image wheel slowly panning with the astronaut and the cameraman walking across
it; espeak-ng sentences on the sound track. Cuts are at known frames, so the table also says
whether each detector found them (within one frame).

Each pipeline runs its whole processor (probe, decode, analysis, annotation file) in this
process, with its default params, rounds interleaved; the table gives medians. "All together"
is the four run one after another, as one worker runs a VideoAnnotator job's pipelines.
PySceneDetect 0.7.2's ContentDetector (threshold 27, min_scene_len 15) runs on the same clip
through its PyAV and its OpenCV backends, with its default automatic downscaling.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BENCH_DIR, host_load, log, markdown_table, revision, write_result
from tests.videos import (
    ASTRONAUT,
    CAMERAMAN,
    Figure,
    LocalContext,
    encode,
    photo,
    speech_track,
)

from mediaforge.processors.base import InputFile, Processor
from mediaforge.processors.builtin.video_audio_processing import VIDEO_AUDIO_PROCESSING
from mediaforge.processors.builtin.video_face_analysis import VIDEO_FACE_ANALYSIS
from mediaforge.processors.builtin.video_person_tracking import VIDEO_PERSON_TRACKING
from mediaforge.processors.builtin.video_scene_detection import VIDEO_SCENE_DETECTION
from mediaforge.video.probe import probe_video

SIZE = (1280, 720)
FPS = 25
SHOT_SECONDS = 5
BACKGROUNDS = ("coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg")
SENTENCES = (
    "Welcome to the benchmark clip.",
    "The astronaut walks across the picture.",
    "A man with a camera follows her.",
    "Each shot lasts five seconds.",
    "This is the end of the clip.",
)
PIPELINES: list[tuple[str, Processor]] = [
    ("scene_detection", VIDEO_SCENE_DETECTION),
    ("person_tracking", VIDEO_PERSON_TRACKING),
    ("face_analysis", VIDEO_FACE_ANALYSIS),
    ("audio_processing", VIDEO_AUDIO_PROCESSING),
]


def make_clip(seconds: int) -> tuple[Path, list[int]]:
    """The benchmark clip (cached) and its true cut frames."""
    shots = max(1, seconds // SHOT_SECONDS)
    total = shots * SHOT_SECONDS * FPS
    cuts = [k * SHOT_SECONDS * FPS for k in range(1, shots)]
    path = BENCH_DIR / "results" / "corpus" / f"video-720p-{seconds}s.mp4"
    if path.is_file():
        return path, cuts
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"encoding the {seconds} s 720p clip (once)")
    speech = [(k * SHOT_SECONDS + 0.8, SENTENCES[k % len(SENTENCES)]) for k in range(shots)]
    audio, _ = speech_track(speech, seconds=total / FPS)
    scaled = [
        Figure(
            f.photo,
            (f.start[0] * 4 // 3, f.start[1] * 4 // 3),
            (f.end[0] * 4 // 3, f.end[1] * 4 // 3),
            430,
            f.crop,
        )
        for f in (ASTRONAUT, CAMERAMAN)
    ]
    sprites = [figure.sprite() for figure in scaled]

    def frames() -> Iterator[np.ndarray]:
        for index in range(total):
            shot, offset = divmod(index, SHOT_SECONDS * FPS)
            frame = _pan(photo(BACKGROUNDS[shot % len(BACKGROUNDS)]), offset)
            for figure, sprite in zip(scaled, sprites, strict=True):
                x, y, _, _ = figure.box(offset, SHOT_SECONDS * FPS)
                _paste(frame, sprite, x, y)
            yield frame

    tmp = path.with_suffix(".part.mp4")
    encode(tmp, frames(), fps=FPS, audio=audio, preset="medium", crf=23)
    tmp.rename(path)
    return path, cuts


def _pan(source: np.ndarray, offset: int) -> np.ndarray:
    from PIL import Image

    height, width = source.shape[:2]
    crop_w = int(width * 0.85)
    crop_h = min(height, crop_w * SIZE[1] // SIZE[0])
    x = min(width - crop_w, offset // 2)
    window = np.ascontiguousarray(source[:crop_h, x : x + crop_w])
    return np.asarray(Image.fromarray(window).resize(SIZE, Image.Resampling.BILINEAR)).copy()


def _paste(frame: np.ndarray, sprite: np.ndarray, x: int, y: int) -> None:
    h, w = frame.shape[:2]
    left, top = max(0, x), max(0, y)
    right, bottom = min(w, x + sprite.shape[1]), min(h, y + sprite.shape[0])
    if right > left and bottom > top:
        frame[top:bottom, left:right] = sprite[top - y : bottom - y, left - x : right - x]


def run_pipeline(processor: Processor, clip: Path) -> tuple[float, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        source = InputFile("bench", clip, clip.name, "video/mp4", clip.stat().st_size)
        params = processor.parse_params({})
        started = time.perf_counter()
        output = processor.run(LocalContext(Path(tmp)), [source], params)
        return time.perf_counter() - started, output.result


def run_pyscenedetect(clip: Path, backend: str) -> tuple[float, list[int]]:
    from scenedetect import ContentDetector, detect

    started = time.perf_counter()
    scenes = detect(str(clip), ContentDetector(threshold=27.0, min_scene_len=15), backend=backend)
    elapsed = time.perf_counter() - started
    return elapsed, [start.frame_num for start, _ in scenes[1:]]


def _within_one(found: list[int], truth: list[int]) -> str:
    hits = sum(any(abs(f - t) <= 1 for f in found) for t in truth)
    extra = len(found) - hits
    return f"{hits}/{len(truth)}" + (f" (+{extra} false)" if extra > 0 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()

    clip, truth = make_clip(args.seconds)
    info = probe_video(clip)
    frames = info.frame_count or round(info.duration_seconds * info.fps)
    log(f"clip {clip.name}: {info.width}x{info.height}, {info.fps:g} fps, {info.duration_seconds:g} s")
    for _, processor in PIPELINES[1:]:  # load the models once, outside the timings
        run_pipeline(processor, clip)

    times: dict[str, list[float]] = {name: [] for name, _ in PIPELINES}
    anchors: dict[str, list[float]] = {"pyav": [], "opencv": []}
    results: dict[str, dict[str, Any]] = {}
    anchor_cuts: dict[str, list[int]] = {}
    runs: list[tuple[str, Callable[[], None]]] = []
    for name, processor in PIPELINES:

        def ours(name: str = name, processor: Processor = processor) -> None:
            elapsed, result = run_pipeline(processor, clip)
            times[name].append(elapsed)
            results[name] = result

        runs.append((name, ours))
    for backend in anchors:

        def theirs(backend: str = backend) -> None:
            elapsed, cuts = run_pyscenedetect(clip, backend)
            anchors[backend].append(elapsed)
            anchor_cuts[backend] = cuts

        runs.append((f"pyscenedetect-{backend}", theirs))
    for round_index in range(args.rounds):
        for name, run in runs:
            log(f"round {round_index + 1}/{args.rounds}: {name}")
            run()

    duration = info.duration_seconds
    rows = []
    for name, _ in PIPELINES:
        seconds = statistics.median(times[name])
        processed = results[name].get("frames_processed") or 0
        rows.append(
            [
                f"mediaforge `{name}`",
                f"{processed}",
                f"{seconds:.2f}",
                f"{frames / seconds:.0f}",
                f"{duration / seconds:.1f}x",
                _notes(name, results[name], truth),
            ]
        )
    total = sum(statistics.median(times[name]) for name, _ in PIPELINES)
    rows.append(
        [
            "mediaforge, all four one after another",
            "",
            f"{total:.2f}",
            f"{frames / total:.0f}",
            f"{duration / total:.1f}x",
            "",
        ]
    )
    for backend, samples in anchors.items():
        seconds = statistics.median(samples)
        rows.append(
            [
                f"PySceneDetect 0.7.2 ContentDetector ({backend})",
                f"{frames}",
                f"{seconds:.2f}",
                f"{frames / seconds:.0f}",
                f"{duration / seconds:.1f}x",
                f"cuts {_within_one(anchor_cuts[backend], truth)}",
            ]
        )
    table = markdown_table(
        ["pipeline", "frames analysed", "seconds (median)", "video fps", "x real time", "notes"], rows
    )
    header = (
        f"Video pipelines on a {info.width}x{info.height} {info.fps:g} fps H.264 clip of {duration:g} s "
        f"({frames} frames), median of {args.rounds} rounds; {revision()}; load {host_load()}\n\n"
    )
    print(header + table)
    if not args.no_save:
        log(f"saved {write_result('video', header + table)}")


def _notes(name: str, result: dict[str, Any], truth: list[int]) -> str:
    if name == "scene_detection":
        return f"cuts {_within_one([c['frame'] for c in result['cuts']], truth)}"
    if name == "person_tracking":
        return f"{result['track_count']} tracks, {result['annotation_count']} poses"
    if name == "face_analysis":
        return f"{result['face_track_count']} face tracks, {result['annotation_count']} faces"
    return f"{result['annotation_count']} speech segments"


if __name__ == "__main__":
    main()
