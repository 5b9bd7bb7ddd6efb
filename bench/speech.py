"""Speech-to-text benchmark: ``video.audio_processing``'s Whisper transcript beside faster-whisper's own.

    .venv/bin/python bench/speech.py [--seconds 60] [--rounds 3] [--no-save]

The clip (made once, kept under ``bench/results/corpus``): a 160x120 H.264 video with AAC sound,
an espeak-ng sentence starting every 5 s (about half the time is speech). Rows, rounds interleaved,
medians:

* mediaforge ``speech.transcribe``: Whisper base (int8, beam 5, word timestamps) on the Silero VAD
  segments the pipeline found, the audio already decoded (transcription alone);
* mediaforge ``audio_processing``: the whole processor (decode, VAD, RTTM, transcript, WebVTT);
* anchor, faster-whisper ``transcribe(vad_filter=True)``: the same model, beam 5, its own Silero
  VAD, on the same decoded 16 kHz audio (no word timestamps).

"x real time" is the clip's length over the wall time; WER is the word error rate against the
spoken sentences (lowercased, punctuation dropped). The model is loaded before the timings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import BENCH_DIR, host_load, log, markdown_table, revision, write_result
from tests.videos import LocalContext, speech_clip, word_error_rate

from mediaforge.processors.base import InputFile
from mediaforge.processors.builtin.video_audio_processing import VIDEO_AUDIO_PROCESSING
from mediaforge.video import speech
from mediaforge.video.audio import decode_audio, speech_segments

SENTENCES = (
    "Welcome to the benchmark clip.",
    "The astronaut walks across the picture.",
    "A man with a camera follows her.",
    "Each shot lasts five seconds.",
    "The weather today is sunny and warm.",
    "Please send the report before Friday.",
    "Seven ducks swim across the quiet lake.",
    "This is the end of the clip.",
)
STEP = 5.0


def make_clip(seconds: int) -> tuple[Path, str]:
    """The benchmark clip (cached) and the text spoken in it."""
    speech_at = [(k * STEP + 0.7, SENTENCES[k % len(SENTENCES)]) for k in range(int(seconds // STEP))]
    spoken = " ".join(text for _, text in speech_at)
    path = BENCH_DIR / "results" / "corpus" / f"speech-{seconds}s.mp4"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        log(f"encoding the {seconds} s speech clip (once)")
        made = speech_clip(path.with_name(path.stem + ".part"), speech=speech_at, seconds=seconds)
        made.rename(path)
    return path, spoken


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()

    available, reason = speech.stt_available()
    if not available:
        sys.exit(f"speech-to-text is not installed: {reason} ({speech.STT_INSTALL_HINT})")
    clip, spoken = make_clip(args.seconds)
    audio = decode_audio(clip, sample_rate=16000)
    segments = speech_segments(audio, 16000, backend="silero")
    seconds = len(audio) / 16000
    log(f"clip {clip.name}: {seconds:.1f} s, {len(segments)} VAD segments")
    model = speech.load_model()

    def ours_transcribe() -> str:
        return speech.transcribe(audio, 16000, segments).text

    def ours_pipeline() -> str:
        with tempfile.TemporaryDirectory() as tmp:
            source = InputFile("bench", clip, clip.name, "video/mp4", clip.stat().st_size)
            params = VIDEO_AUDIO_PROCESSING.parse_params({})
            output = VIDEO_AUDIO_PROCESSING.run(LocalContext(Path(tmp)), [source], params)
            return str(output.result["transcript"]["text"])

    def anchor() -> str:
        pieces, _ = model.transcribe(np.asarray(audio, dtype=np.float32), beam_size=5, vad_filter=True)
        return " ".join(piece.text.strip() for piece in pieces)

    runs: list[tuple[str, Callable[[], str]]] = [
        ("mediaforge `speech.transcribe` (VAD segments, word times)", ours_transcribe),
        ("mediaforge `audio_processing` (decode + VAD + STT + files)", ours_pipeline),
        ("faster-whisper 1.2.1 `transcribe(vad_filter=True)`", anchor),
    ]
    ours_transcribe()  # warm: the joined model folder, the first inference
    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    texts: dict[str, str] = {}
    for round_index in range(args.rounds):
        for name, run in runs:
            log(f"round {round_index + 1}/{args.rounds}: {name}")
            started = time.perf_counter()
            texts[name] = run()
            times[name].append(time.perf_counter() - started)

    rows = []
    for name, _ in runs:
        median = statistics.median(times[name])
        wer = word_error_rate(spoken, texts[name])
        rows.append([name, f"{median:.2f}", f"{seconds / median:.1f}x", f"{wer:.3f}"])
    header = (
        f"Speech-to-text (Whisper base, int8, CPU) on a {seconds:.0f} s clip, "
        f"{len(segments)} speech segments, median of {args.rounds} rounds; {revision()}; {host_load()}\n\n"
    )
    table = markdown_table(["run", "seconds (median)", "x real time", "WER"], rows)
    text = header + table + "\n"
    print(text)
    if not args.no_save:
        log(f"saved {write_result('speech', text)}")


if __name__ == "__main__":
    main()
