"""``video.audio_processing``: voice activity as RTTM speech segments (Silero VAD or WebRTC VAD),
and a WebVTT transcript of those segments (Whisper base through faster-whisper) when it is installed.

Without faster-whisper and its model wheels (or with ``enable_transcription`` false, or when the
model fails to load) the result's ``transcript`` says why, with what to install, and no WebVTT
file is written: a transcript is never made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mediaforge.processors.base import (
    Availability,
    Context,
    InputFile,
    Output,
    OutputFile,
    PermanentFailure,
    Processor,
)
from mediaforge.processors.builtin.video_common import (
    VIDEO_INSTALL_HINT,
    VIDEO_RETRY,
    Ticker,
    probe_input,
    video_facts,
)

if TYPE_CHECKING:
    from mediaforge.video.audio import Segment

__all__ = ["VIDEO_AUDIO_PROCESSING", "AudioProcessingParams"]

SILERO_INSTALL_HINT = "pip install onnxruntime && pip install --no-deps silero-vad==6.2.3  (or: make install)"


class AudioProcessingParams(BaseModel):
    """The rate the sound is analysed at, the VAD backend, and how segments are formed."""

    model_config = ConfigDict(extra="forbid")
    sample_rate: Literal[8000, 16000, 32000, 48000] = Field(
        16000, description="Sample rate (Hz) the sound track is resampled to for analysis."
    )
    vad_backend: Literal["silero", "webrtc"] = Field(
        "silero",
        description="'silero': the Silero VAD network (ONNX); 'webrtc': Google's WebRTC VAD "
        "(no model file, less precise in noise).",
    )
    vad_threshold: float = Field(
        0.5, ge=0.05, le=0.95, description="Silero: speech probability (0-1) that starts a segment."
    )
    vad_aggressiveness: int = Field(
        2, ge=0, le=3, description="WebRTC: 0 (keeps the most speech) to 3 (drops the most noise)."
    )
    min_speech_duration: float = Field(
        0.25, ge=0.0, le=10.0, description="Shortest speech segment kept, in seconds."
    )
    min_silence_duration: float = Field(
        0.3, ge=0.03, le=10.0, description="Silence that ends a segment, in seconds (shorter pauses join)."
    )
    speech_pad: float = Field(
        0.03, ge=0.0, le=1.0, description="Seconds added before and after each segment."
    )
    enable_transcription: bool = Field(
        True,
        description="Transcribe the speech segments (Whisper base) into audio_processing.vtt when "
        "faster-whisper and its model are installed; otherwise the result says why not.",
    )


def _unavailable(reason: str, hint: str | None) -> dict[str, Any]:
    return {"available": False, "reason": reason, "hint": hint}


def _transcript(
    ctx: Context, wanted: bool, samples: Any, rate: int, segments: list[Segment]
) -> tuple[dict[str, Any], OutputFile | None]:
    """The result's ``transcript`` and the WebVTT file, or why there is none."""
    from mediaforge.video.speech import MODEL_NAME, STT_INSTALL_HINT, load_model, stt_available, transcribe
    from mediaforge.video.webvtt import webvtt_document

    if not wanted:
        return _unavailable("transcription was not asked for", None), None
    installed, reason = stt_available()
    if not installed:
        return _unavailable(f"no speech-to-text model is installed: {reason}", STT_INSTALL_HINT), None
    try:
        load_model()
    except Exception as exc:  # a broken or half-installed model is reported, never faked
        ctx.log("stt_model_failed", error=repr(exc))
        return _unavailable(f"the speech-to-text model failed to load: {exc}", STT_INSTALL_HINT), None
    transcript = transcribe(samples, rate, segments)
    path = ctx.tmp_dir / "audio_processing.vtt"
    path.write_text(webvtt_document(transcript.cues), encoding="utf-8")
    status = {
        "available": True,
        "model": MODEL_NAME,
        "language": transcript.language,
        "language_probability": transcript.language_probability,
        "cue_count": len(transcript.cues),
        "text": transcript.text,
    }
    return status, OutputFile(path, "audio_processing.vtt", role="transcript")


def _audio_processing(ctx: Context, inputs: list[InputFile], params: AudioProcessingParams) -> Output:
    from mediaforge.video.audio import decode_audio, speech_segments, vad_available
    from mediaforge.video.rttm import rttm_lines

    available, reason = vad_available(params.vad_backend)
    if not available:
        hint = SILERO_INSTALL_HINT if params.vad_backend == "silero" else VIDEO_INSTALL_HINT
        raise PermanentFailure(
            f"VAD backend {params.vad_backend!r} is unavailable: {reason} ({hint})",
            type="backend_unavailable",
        )
    info = probe_input(inputs[0])
    video_id = PurePath(inputs[0].filename).stem or "video"
    tick = Ticker(ctx, info.duration_seconds, end=70, message="decoding audio")
    samples = decode_audio(inputs[0].path, sample_rate=params.sample_rate, on_progress=tick)
    ctx.check_cancelled()
    ctx.progress(70, "finding speech")
    segments = speech_segments(
        samples,
        params.sample_rate,
        backend=params.vad_backend,
        threshold=params.vad_threshold,
        aggressiveness=params.vad_aggressiveness,
        min_speech=params.min_speech_duration,
        min_silence=params.min_silence_duration,
        pad=params.speech_pad,
    )
    lines = rttm_lines(video_id, segments)
    path = ctx.tmp_dir / "audio_processing.rttm"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    ctx.check_cancelled()
    ctx.progress(75, "transcribing speech")
    transcript, vtt = _transcript(ctx, params.enable_transcription, samples, params.sample_rate, segments)
    ctx.progress(100, "done")
    audio_seconds = len(samples) / params.sample_rate
    return Output(
        result={
            "format": "RTTM",
            "annotation_count": len(lines),
            "frames_processed": 0,
            "video": video_facts(info),
            "has_audio": info.has_audio,
            "audio_seconds": round(audio_seconds, 3),
            "sample_rate": params.sample_rate,
            "vad_backend": params.vad_backend,
            "speech_segments": [
                {"start": round(s.start, 3), "end": round(s.end, 3), "duration": round(s.duration, 3)}
                for s in segments
            ],
            "speech_seconds": round(sum(s.duration for s in segments), 3),
            "transcript": transcript,
        },
        files=[OutputFile(path, "audio_processing.rttm", role="annotations"), *([vtt] if vtt else [])],
    )


@dataclass(frozen=True)
class _AudioProcessor(Processor):
    """Available when PyAV and at least one VAD backend are (the default, Silero, preferred)."""

    def availability(self) -> Availability:
        from mediaforge.video.audio import vad_available

        base = super().availability()
        if not base.available:
            return base
        silero, silero_reason = vad_available("silero")
        webrtc, webrtc_reason = vad_available("webrtc")
        if silero or webrtc:
            return Availability(True)
        return Availability(False, f"{silero_reason}; {webrtc_reason}", SILERO_INSTALL_HINT)


VIDEO_AUDIO_PROCESSING = _AudioProcessor(
    "video.audio_processing",
    _audio_processing,
    AudioProcessingParams,
    description="Voice activity as RTTM speech segments (Silero VAD in ONNX, or WebRTC VAD), and a "
    "WebVTT transcript (Whisper base, faster-whisper) when the speech-to-text model is installed.",
    requires=("av", "numpy"),
    install_hint=VIDEO_INSTALL_HINT,
    min_inputs=1,
    max_inputs=1,
    timeout=3600,
    retry=VIDEO_RETRY,
)
