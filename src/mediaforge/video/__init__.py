"""Video annotation: probing, frame decoding, scene cuts, people, faces and speech (PyAV + numpy)."""

from __future__ import annotations

from mediaforge.video.probe import InvalidVideo, VideoInfo, probe_video

__all__ = ["InvalidVideo", "VideoInfo", "probe_video"]
