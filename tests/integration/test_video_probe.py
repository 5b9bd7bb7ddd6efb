"""``probe_video`` on real clips of every accepted container, and on files that are not videos."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.videos import cut_clip, photo, speech_clip, speech_track

from mediaforge.errors import BadRequest
from mediaforge.video import probe_video

pytest.importorskip("av")


@pytest.mark.parametrize("container", ["mp4", "mov", "mkv", "webm", "avi"])
def test_each_container_probes_to_its_name_size_rate_and_length(tmp_path: Path, container: str) -> None:
    """A 40-frame 25 fps clip is 1.6 s at 320x240 in every container."""
    info = probe_video(cut_clip(tmp_path / "clip", cut_frames=[20], total_frames=40, container=container))
    assert (container, 320, 240, 25.0, 1.6, False) == (
        info.container,
        info.width,
        info.height,
        info.fps,
        round(info.duration_seconds, 2),
        info.has_audio,
    )


def test_a_clip_with_sound_reports_its_audio_track(tmp_path: Path) -> None:
    """The speech clip has an AAC track at 44.1 kHz."""
    info = probe_video(speech_clip(tmp_path / "talk", speech=[(0.5, "Hello")], seconds=2))
    assert (True, "aac", 44100) == (info.has_audio, info.audio_codec, info.audio_sample_rate)


def _not_videos(tmp_path: Path) -> dict[str, Path]:
    clip = cut_clip(tmp_path / "whole", cut_frames=[20], total_frames=40, container="mkv").read_bytes()
    samples, _ = speech_track([(0.2, "Hello")], seconds=2)
    import wave

    with wave.open(str(tmp_path / "sound.mp4"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(samples.tobytes())
    from PIL import Image

    Image.fromarray(photo("astronaut.png")).save(tmp_path / "image.mp4", format="PNG")
    (tmp_path / "text.mp4").write_text("this is not a video, whatever its name says\n")
    (tmp_path / "cut.mkv").write_bytes(clip[: len(clip) // 2])
    (tmp_path / "empty.mp4").write_bytes(b"")
    return {p.stem: p for p in tmp_path.iterdir() if p.stem in {"sound", "image", "text", "cut", "empty"}}


def test_text_images_sound_and_truncated_files_are_invalid_videos(tmp_path: Path) -> None:
    """Each is refused with ``invalid_video`` (a 400), whatever its file name."""
    codes = {}
    for name, path in sorted(_not_videos(tmp_path).items()):
        with pytest.raises(BadRequest) as caught:
            probe_video(path)
        codes[name] = (caught.value.code, caught.value.status)
    assert dict.fromkeys(["cut", "empty", "image", "sound", "text"], ("invalid_video", 400)) == codes
