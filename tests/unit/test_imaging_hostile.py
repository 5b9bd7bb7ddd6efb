"""Hostile input fails fast and cleanly: the right ``ImagingError`` type, no decode, no network."""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("pyvips")

from mediaforge.imaging import ImagingError, OptimizeParams, optimize

MAX_PIXELS = 100_000_000


def run(path: Path, tmp_path: Path, **params: object) -> dict[str, object]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return optimize(path, OptimizeParams.model_validate(params), work_dir=work, max_pixels=MAX_PIXELS).result


def failure(path: Path, tmp_path: Path, **params: object) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(ImagingError) as caught:
        run(path, tmp_path, **params)
    return caught.value.type, time.monotonic() - started


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims ``width`` x ``height`` RGB pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize((256, 256)).save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_zero_byte_file_is_corrupt(tmp_path: Path) -> None:
    """An empty file is ``corrupt_image``."""
    assert "corrupt_image" == failure(write(tmp_path, "empty.jpg", b""), tmp_path)[0]


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    """A JPEG cut in half is ``corrupt_image``, not a grey-filled picture."""
    data = jpeg_bytes()
    assert "corrupt_image" == failure(write(tmp_path, "cut.jpg", data[: len(data) // 2]), tmp_path)[0]


def test_truncated_jpeg_is_corrupt_on_the_resize_path_too(tmp_path: Path) -> None:
    """Shrink-on-load decoding also refuses the truncated JPEG."""
    data = jpeg_bytes()
    path = write(tmp_path, "cut.jpg", data[: len(data) // 2])
    assert "corrupt_image" == failure(path, tmp_path, width=64)[0]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
@pytest.mark.parametrize("rotated", [False, True])
def test_truncated_streamed_inputs_are_corrupt(tmp_path: Path, fmt: str, rotated: bool) -> None:
    """A single encode reads the input as it decodes (sequentially, or whole when EXIF turns it):
    a cut file still fails as ``corrupt_image``, never as an encoder crash."""
    image = Image.radial_gradient("L").convert("RGB").resize((512, 512))
    exif = Image.Exif()
    exif[0x0112] = 6 if rotated else 1
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes())
    data = out.getvalue()
    path = write(tmp_path, f"cut.{fmt.lower()}", data[: len(data) * 2 // 3])
    assert "corrupt_image" == failure(path, tmp_path, format="jpg")[0]


def test_png_bomb_is_refused_from_its_header_quickly(tmp_path: Path) -> None:
    """A 50,000 x 50,000 PNG header is ``image_too_large`` in well under a second, nothing decoded."""
    kind, seconds = failure(write(tmp_path, "bomb.png", png_declaring(50_000, 50_000)), tmp_path)
    assert ("image_too_large", True) == (kind, seconds < 1.0)


def test_upscale_past_8192_is_reduced(tmp_path: Path) -> None:
    """A 1000-pixel image asked for x10 comes out 8192 wide, with a note."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((1000, 100)).save(out, format="PNG")
    result = run(write(tmp_path, "wide.png", out.getvalue()), tmp_path, upscale=10, format="jpg")
    notes = result["notes"]
    assert isinstance(notes, list)
    assert (8192, True) == (result["output_width"], any("reduced" in note for note in notes))


def test_svg_with_entities_is_refused(tmp_path: Path) -> None:
    """An SVG that declares an external entity is ``unsupported_media``; it is never parsed."""
    svg = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&xxe;</text></svg>'
    )
    assert "unsupported_media" == failure(write(tmp_path, "x.svg", svg), tmp_path)[0]


class _Listener:
    """A local TCP listener that records whether anything connected."""

    def __init__(self) -> None:
        import socket

        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener()
    yield server
    server.close()


def test_svg_external_references_are_never_fetched(tmp_path: Path, listener: _Listener) -> None:
    """An SVG linking an image and an XInclude on a local server renders without any connection to it."""
    url = f"http://127.0.0.1:{listener.port}/x"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'xmlns:xi="http://www.w3.org/2001/XInclude" width="40" height="20">'
        f'<rect width="40" height="20" fill="red"/><image xlink:href="{url}.png" width="10" height="10"/>'
        f'<image href="file:///etc/hostname" width="10" height="10"/>'
        f'<text><xi:include href="{url}.txt" parse="text"/></text></svg>'
    ).encode()
    result = run(write(tmp_path, "links.svg", svg), tmp_path)
    time.sleep(0.3)
    assert (0, "png", 40, 20) == (
        listener.connections,
        result["output_format"],
        result["output_width"],
        result["output_height"],
    )


def test_huge_svg_canvas_is_refused(tmp_path: Path) -> None:
    """An SVG declaring a 50,000 x 50,000 canvas is ``image_too_large`` before rendering."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="50000" height="50000"></svg>'
    kind, seconds = failure(write(tmp_path, "big.svg", svg), tmp_path)
    assert ("image_too_large", True) == (kind, seconds < 1.0)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("doc.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
        ("notes.txt", b"hello, this is not an image\n"),
        ("table.csv", b"1,2,3\n4,5,6\n"),
        ("random.bin", bytes(range(256)) * 4),
    ],
)
def test_unsupported_formats_are_refused(tmp_path: Path, name: str, data: bytes) -> None:
    """Anything that is not an image we read is ``unsupported_media`` (no libvips fallback loader)."""
    assert "unsupported_media" == failure(write(tmp_path, name, data), tmp_path)[0]


def test_garbage_after_a_png_signature_is_corrupt(tmp_path: Path) -> None:
    """A PNG signature followed by junk is ``corrupt_image``."""
    path = write(tmp_path, "junk.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    assert "corrupt_image" == failure(path, tmp_path)[0]


def test_gif_frames_count_against_the_pixel_limit(tmp_path: Path) -> None:
    """Animated frames multiply: 3 frames of 4x4 over a 40-pixel limit is ``image_too_large``."""
    frames = [Image.new("RGB", (4, 4), (80 * i, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    path = write(tmp_path, "a.gif", out.getvalue())
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ImagingError) as caught:
        optimize(path, OptimizeParams(), work_dir=work, max_pixels=40)
    assert "image_too_large" == caught.value.type
