"""Media types come from magic bytes, never from what the client claims."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from mediaforge.media import SNIFF_BYTES, extension_for, sniff


def _pillow_bytes(fmt: str, mode: str = "RGB", **params: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (16, 12), "red" if mode == "RGB" else 0).save(out, fmt, **params)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mode", "expected"),
    [
        ("PNG", "RGB", "image/png"),
        ("JPEG", "RGB", "image/jpeg"),
        ("GIF", "P", "image/gif"),
        ("WEBP", "RGB", "image/webp"),
        ("AVIF", "RGB", "image/avif"),
        ("TIFF", "RGB", "image/tiff"),
        ("BMP", "RGB", "image/bmp"),
        ("ICO", "RGB", "image/x-icon"),
        ("PDF", "RGB", "application/pdf"),
    ],
)
def test_images_written_by_pillow_are_recognised(fmt: str, mode: str, expected: str) -> None:
    """Real files from Pillow's encoders sniff as their type, whatever the file name says."""
    assert expected == sniff(_pillow_bytes(fmt, mode)[:SNIFF_BYTES], "upload.txt")


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    brands = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands + b"\x00\x00\x00\x08mdat"


def _ebml(doctype: bytes) -> bytes:
    return b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82" + bytes([0x80 | len(doctype)]) + doctype


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (_ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"heic"), "image/heic"),
        (_ftyp(b"mif1", b"miaf"), "image/heif"),
        (_ftyp(b"avis", b"msf1"), "image/avif"),
        (_ftyp(b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (_ftyp(b"mp42", b"isom"), "video/mp4"),
        (_ftyp(b"M4V ", b"M4A "), "video/mp4"),
        (_ftyp(b"qt  ", b"qt  "), "video/quicktime"),
        (_ftyp(b"M4A ", b"isom"), "audio/mp4"),
        (b"\x00\x00\x00\x10moov\x00\x00\x00\x08mvhd", "video/quicktime"),
        (_ebml(b"webm"), "video/webm"),
        (_ebml(b"matroska"), "video/x-matroska"),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "video/x-msvideo"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 100, "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + b"\x00" * 100, "audio/aac"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x1e\x01vorbis", "audio/ogg"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", "video/ogg"),
        (b"FORM\x00\x00\x00\x20AIFFCOMM", "audio/aiff"),
        (b"glTF\x02\x00\x00\x00", "model/gltf-binary"),
        (b"ply\nformat ascii 1.0\nelement vertex 3\n", "model/x-ply"),
        (b"solid cube\n  facet normal 0 0 1\n", "model/stl"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\xff\x0a\xfa\x7f", "image/jxl"),
        (b"8BPS\x00\x01", "image/vnd.adobe.photoshop"),
        (b"\x00\x01\x02\x03\xfe\xfd\x00", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_crafted_headers_are_recognised(head: bytes, expected: str) -> None:
    """Container, audio, video, 3D and archive headers map to their MIME types."""
    assert expected == sniff(head)


@pytest.mark.parametrize(
    ("text", "filename", "expected"),
    [
        ('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', None, "image/svg+xml"),
        (
            '\ufeff<!-- logo -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg/>',
            None,
            "image/svg+xml",
        ),
        ('<svg width="1" height="1"></svg>', None, "image/svg+xml"),
        ('<?xml version="1.0"?><feed/>', None, "application/xml"),
        ("<!DOCTYPE html><html><body><svg/></body></html>", None, "text/plain"),
        ('{"asset": {"version": "2.0"}, "meshes": []}', None, "model/gltf+json"),
        ('{"asset": {}}', "scene.gltf", "model/gltf+json"),
        ('{"name": "x", "values": [1, 2]}', None, "application/json"),
        ("[1, 2, 3]", None, "application/json"),
        ("[section]\nkey = value\n", None, "text/plain"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", None, "model/obj"),
        ("# exported\nv 0 0 0\n", "mesh.OBJ", "model/obj"),
        ("v is for vendetta\nand other words\n", None, "text/plain"),
        ("solid ground makes good foundations\n", None, "text/plain"),
        ("héllo wörld\n", None, "text/plain"),
    ],
)
def test_text_formats_are_told_apart(text: str, filename: str | None, expected: str) -> None:
    """SVG, XML, glTF JSON, JSON, OBJ and plain text are distinguished by content."""
    assert expected == sniff(text.encode(), filename)


def test_long_json_is_recognised_from_a_truncated_head() -> None:
    """JSON longer than the sniff window is still JSON although it no longer parses."""
    payload = json.dumps({"items": list(range(5000))}).encode()
    assert sniff(payload[:SNIFF_BYTES]) == "application/json"


def test_utf8_cut_mid_character_is_still_text() -> None:
    """A head that ends inside a multi-byte character is still text."""
    head = ("ü" * SNIFF_BYTES).encode()[: SNIFF_BYTES - 1]
    assert sniff(head) == "text/plain"


def test_binary_stl_needs_its_file_name() -> None:
    """Binary STL has no magic, so only the ``.stl`` name identifies it."""
    head = b"\x00" * 80 + (1).to_bytes(4, "little") + b"\x00" * 50
    assert (sniff(head, "part.stl"), sniff(head)) == ("model/stl", "application/octet-stream")


def test_magic_bytes_beat_the_file_name() -> None:
    """A PNG named ``.stl`` is a PNG."""
    assert sniff(_pillow_bytes("PNG"), "model.stl") == "image/png"


@pytest.mark.parametrize(
    ("mime", "extension"),
    [
        ("image/jpeg", ".jpg"),
        ("video/quicktime", ".mov"),
        ("model/gltf-binary", ".glb"),
        ("x/unknown", ".bin"),
    ],
)
def test_extension_for_mime(mime: str, extension: str) -> None:
    """Each MIME type maps to its usual extension, unknown ones to ``.bin``."""
    assert extension == extension_for(mime)
