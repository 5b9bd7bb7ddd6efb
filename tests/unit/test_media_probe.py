"""Image probing reads headers only, refuses bombs, and full verification catches damage."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from mediaforge.errors import BadRequest
from mediaforge.media import ImageInfo, probe_image, verify_image

LIMIT = 100_000_000


@pytest.fixture(autouse=True)
def _restore_pillow_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A tiny, well-formed PNG whose IHDR claims ``width`` x ``height`` 1-bit pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def _noisy_png(path: Path) -> Path:
    Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3)).save(path)
    return path


def test_png_dimensions_and_alpha(tmp_path: Path) -> None:
    """A real RGBA PNG reports its size, mode, format, one frame and an alpha channel."""
    path = tmp_path / "pic.png"
    Image.new("RGBA", (320, 200), (1, 2, 3, 4)).save(path)
    expected = ImageInfo(
        mime="image/png", format="PNG", width=320, height=200, mode="RGBA", frames=1, has_alpha=True
    )
    assert probe_image(path, max_pixels=LIMIT) == expected


def test_jpeg_exif_summary(tmp_path: Path) -> None:
    """Camera make, model, orientation and capture time are summarised from EXIF."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS R5\x00", 6
    exif.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30)).save(path, exif=exif)
    info = probe_image(path, max_pixels=LIMIT)
    assert info is not None
    expected = {
        "Make": "Canon",
        "Model": "EOS R5",
        "Orientation": 6,
        "DateTimeOriginal": "2024:01:02 03:04:05",
    }
    assert (info.exif, info.has_alpha) == (expected, False)


def test_animated_gif_counts_frames(tmp_path: Path) -> None:
    """An animated GIF reports every frame."""
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "green", "blue")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    info = probe_image(path, max_pixels=LIMIT)
    assert info is not None
    assert (info.format, info.frames) == ("GIF", 3)


def test_truncated_png_probes_but_fails_verification(tmp_path: Path) -> None:
    """A PNG cut short keeps a readable header, but decoding it is ``invalid_image``."""
    path = _noisy_png(tmp_path / "cut.png")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    info = probe_image(path, max_pixels=LIMIT)
    assert info is not None
    assert (info.width, info.height) == (64, 48)
    with pytest.raises(BadRequest, match="truncated") as caught:
        verify_image(path, LIMIT)
    assert caught.value.code == "invalid_image"


def test_intact_image_verifies(tmp_path: Path) -> None:
    """A complete image decodes without complaint."""
    verify_image(_noisy_png(tmp_path / "ok.png"), LIMIT)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00"])
def test_empty_or_headless_file_is_invalid(tmp_path: Path, content: bytes) -> None:
    """A zero-byte file or one cut inside the header is ``invalid_image`` for probe and verify."""
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    for check in (lambda: probe_image(path, max_pixels=LIMIT), lambda: verify_image(path, LIMIT)):
        with pytest.raises(BadRequest) as caught:
            check()
        assert caught.value.code == "invalid_image"


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (15_000, 10_000)])
def test_decompression_bomb_is_refused_from_its_header(tmp_path: Path, width: int, height: int) -> None:
    """Declared sizes past the limit (Pillow's error or warning band alike) are ``image_too_large``."""
    path = _png_declaring(tmp_path / "bomb.png", width, height)
    for check in (lambda: probe_image(path, max_pixels=LIMIT), lambda: verify_image(path, LIMIT)):
        with pytest.raises(BadRequest) as caught:
            check()
        assert (caught.value.status, caught.value.code) == (400, "image_too_large")


def test_bomb_is_refused_when_warnings_are_only_warnings(tmp_path: Path) -> None:
    """Outside pytest's warnings-as-errors, the pixel check itself still refuses the image."""
    path = _png_declaring(tmp_path / "bomb.png", 15_000, 10_000)
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(BadRequest, match="15000x10000"):
        probe_image(path, max_pixels=LIMIT)


def test_small_limit_is_enforced_without_lowering_pillows(tmp_path: Path) -> None:
    """A limit below Pillow's own is checked locally; Pillow's global ceiling is left alone."""
    before = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "small.png"
    Image.new("L", (20, 20)).save(path)
    with pytest.raises(BadRequest) as caught:
        probe_image(path, max_pixels=100)
    assert (caught.value.code, Image.MAX_IMAGE_PIXELS) == ("image_too_large", before)


def test_image_within_a_high_limit_raises_no_pillow_warning(tmp_path: Path) -> None:
    """An image allowed by ``max_pixels`` but above Pillow's default ceiling opens cleanly."""
    path = _png_declaring(tmp_path / "wide.png", 12_000, 8_000)
    info = probe_image(path, max_pixels=LIMIT)
    assert info is not None
    assert (info.width, info.height) == (12_000, 8_000)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.txt", b"just some words\n"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("clip.mp4", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"),
    ],
)
def test_non_images_probe_as_none(tmp_path: Path, name: str, content: bytes) -> None:
    """Files that are not raster images Pillow reads give ``None``; the caller decides."""
    path = tmp_path / name
    path.write_bytes(content)
    assert probe_image(path, max_pixels=LIMIT) is None
