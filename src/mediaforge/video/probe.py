"""Video facts from the container, checked by decoding: headers, the first frame and the tail.

A file is a video here when FFmpeg (through PyAV) opens it as one of the video containers in
:data:`CONTAINERS`, it has a video stream whose first frame decodes, and its packets reach the
duration the headers claim (so a file cut short is refused even when its index sits up front).
The file name is never consulted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mediaforge.errors import BadRequest
from mediaforge.media.sniff import SNIFF_BYTES, sniff

__all__ = ["CONTAINERS", "InvalidVideo", "VideoInfo", "probe_video"]

CONTAINERS = {
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/x-matroska": "mkv",
    "video/webm": "webm",
    "video/x-msvideo": "avi",
    "video/3gpp": "3gp",
    "video/ogg": "ogv",
}
"""The containers accepted, by the MIME type sniffed from their bytes, with their short names."""

_DEMUXERS = {"mov", "mp4", "matroska", "webm", "avi", "ogg", "3gp"}
_TAIL_SECONDS = 1.0
_TAIL_TOLERANCE = 0.5


class InvalidVideo(BadRequest):
    code = "invalid_video"


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a video's container says about it, confirmed by decoding its first frame."""

    container: str
    """Short container name: mp4, mov, mkv, webm, avi, 3gp or ogv."""
    duration_seconds: float
    fps: float
    frame_count: int | None
    """From the container's index; ``None`` where the container does not keep one (Matroska)."""
    width: int
    height: int
    video_codec: str
    has_audio: bool
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_video(path: Path) -> VideoInfo:
    """Open ``path``, decode its first frame and check its tail; ``InvalidVideo`` if it is not a video."""
    import av

    with path.open("rb") as fp:
        mime = sniff(fp.read(SNIFF_BYTES))
    container_name = CONTAINERS.get(mime)
    if container_name is None:
        raise InvalidVideo(f"not a video container ({mime})")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidVideo(f"cannot open video: {_reason(exc)}") from exc
    with container:
        if not set(container.format.name.split(",")) & _DEMUXERS:
            raise InvalidVideo(f"not a video container ({container.format.name})")
        if not container.streams.video:
            raise InvalidVideo("no video stream (audio only?)")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        try:
            first = next(container.decode(video), None)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise InvalidVideo(f"cannot decode the first frame: {_reason(exc)}") from exc
        if first is None:
            raise InvalidVideo("the video stream has no frames")
        fps = float(video.average_rate or video.guessed_rate or 0) or 25.0
        duration = _duration(container, video)
        _check_tail(container, duration)
        return VideoInfo(
            container=container_name,
            duration_seconds=round(duration, 6),
            fps=round(fps, 6),
            frame_count=video.frames or None,
            width=first.width,
            height=first.height,
            video_codec=video.codec_context.name,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_sample_rate=audio.codec_context.sample_rate or None if audio is not None else None,
            audio_channels=audio.codec_context.channels or None if audio is not None else None,
        )


def _duration(container: Any, video: Any) -> float:
    if container.duration:
        return float(container.duration) / 1_000_000
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    return 0.0


def _check_tail(container: Any, duration: float) -> None:
    """Demux the last second: its packets must reach (nearly) the duration the headers claim."""
    import av

    if duration <= 0:
        return
    target = max(0.0, duration - _TAIL_SECONDS)
    reached = 0.0
    try:
        container.seek(int(target * 1_000_000), backward=True, any_frame=False)
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None or packet.size == 0:
                continue
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            reached = max(reached, end)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidVideo(f"cannot read the end of the video: {_reason(exc)}") from exc
    start = float(container.start_time or 0) / 1_000_000
    if reached - start < duration - _TAIL_TOLERANCE:
        raise InvalidVideo(
            f"the video is truncated: its data ends at {reached - start:.2f} s of {duration:.2f} s"
        )


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
