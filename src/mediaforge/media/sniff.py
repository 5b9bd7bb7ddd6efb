"""Media type from the bytes themselves: magic numbers first, file name only to break ties.

Client-supplied ``Content-Type`` headers are never consulted. Feed :func:`sniff` the first
:data:`SNIFF_BYTES` of a file (less is fine; a shorter head means the whole file).
"""

from __future__ import annotations

import codecs
import json
import re

__all__ = ["OCTET_STREAM", "SNIFF_BYTES", "extension_for", "sniff"]

SNIFF_BYTES = 4096
OCTET_STREAM = "application/octet-stream"

_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "image/avif": ".avif", "image/heic": ".heic", "image/heif": ".heif", "image/tiff": ".tif",
    "image/bmp": ".bmp", "image/x-icon": ".ico", "image/svg+xml": ".svg", "image/jxl": ".jxl",
    "image/vnd.adobe.photoshop": ".psd", "application/pdf": ".pdf",
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "video/x-matroska": ".mkv",
    "video/x-msvideo": ".avi", "video/3gpp": ".3gp", "video/ogg": ".ogv",
    "audio/mpeg": ".mp3", "audio/aac": ".aac", "audio/wav": ".wav", "audio/flac": ".flac",
    "audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/aiff": ".aiff",
    "model/gltf-binary": ".glb", "model/gltf+json": ".gltf", "model/x-ply": ".ply", "model/stl": ".stl",
    "model/obj": ".obj", "application/zip": ".zip", "application/gzip": ".gz",
    "application/json": ".json", "application/xml": ".xml", "text/plain": ".txt", OCTET_STREAM: ".bin",
}  # fmt: skip

_PREFIXES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"II+\x00", "image/tiff"),
    (b"MM\x00+", "image/tiff"),
    (b"\xff\x0a", "image/jxl"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl"),
    (b"8BPS", "image/vnd.adobe.photoshop"),
    (b"%PDF-", "application/pdf"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"glTF", "model/gltf-binary"),
    (b"ply\n", "model/x-ply"),
    (b"ply\r\n", "model/x-ply"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)
_RIFF = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
# Order matters: specific brands win over the generic HEIF ones that accompany them.
_BRANDS = {
    "image/avif": {b"avif", b"avis"},
    "image/heic": {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"},
    "image/heif": {b"mif1", b"msf1", b"mif2"},
    "video/quicktime": {b"qt  "},
    "audio/mp4": {b"M4A ", b"M4B ", b"M4P ", b"F4A "},
    "video/3gpp": {b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gg6"},
}
_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash"}
_MP4_BRANDS |= {b"mmp4", b"M4V ", b"M4VH", b"M4VP", b"MSNV", b"f4v ", b"NDAS"}
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_OBJ_LINE = re.compile(rb"(v|vt|vn|vp|f|l|o|g|s|usemtl|mtllib)\s")
_XML_PROLOG = re.compile(r"(\s|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(\[.*?\])?\s*>)*", re.DOTALL)


def sniff(head: bytes, filename: str | None = None) -> str:
    """The MIME type of a file whose first bytes are ``head``; ``application/octet-stream`` if unknown."""
    head = head[:SNIFF_BYTES]
    name = (filename or "").lower()
    for prefix, mime in _PREFIXES:
        if head.startswith(prefix):
            return mime
    kind = _container(head) or _binary(head)
    if kind:
        return kind
    if _looks_like_stl(head, name):
        return "model/stl"
    text = _text(head)
    if text is None:
        return OCTET_STREAM
    return _text_kind(text, name, complete=len(head) < SNIFF_BYTES)


def extension_for(mime: str) -> str:
    """The usual file extension (with its dot) for ``mime``; ``.bin`` when unknown."""
    return _EXTENSIONS.get(mime.split(";", 1)[0].strip().lower(), ".bin")


def _container(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[4:8] == b"ftyp":
        return _ftyp(head)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _ebml(head)
    if head[:4] == b"OggS":
        return "video/ogg" if b"\x80theora" in head[:512] else "audio/ogg"
    if head[4:8] in _QT_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return "video/quicktime"
    return None


def _ftyp(head: bytes) -> str:
    box_end = min(int.from_bytes(head[:4], "big"), len(head))
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, box_end - 3, 4)} | {major}
    for mime, known in _BRANDS.items():
        if major in known and mime != "image/heif":
            return mime
    if major in _MP4_BRANDS:
        return "video/mp4"
    for mime, known in _BRANDS.items():
        if known & compatible:
            return mime
    return "video/mp4" if compatible & _MP4_BRANDS else OCTET_STREAM


def _ebml(head: bytes) -> str:
    at = head.find(b"\x42\x82", 4, 64)
    if at != -1 and at + 3 <= len(head) and head[at + 2] & 0x80:
        size = head[at + 2] & 0x7F
        if head[at + 3 : at + 3 + size] == b"webm":
            return "video/webm"
    return "video/x-matroska"


def _binary(head: bytes) -> str | None:
    dib_header = int.from_bytes(head[14:18], "little")
    if head[:2] == b"BM" and dib_header in (12, 40, 52, 56, 64, 108, 124):
        return "image/bmp"
    icons = int.from_bytes(head[4:6], "little")
    if head[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and 0 < icons <= 256 and head[9:10] == b"\x00":
        return "image/x-icon"
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        layer, bitrate, rate = (head[1] >> 1) & 0x3, head[2] >> 4, (head[2] >> 2) & 0x3
        if layer == 0 and head[1] & 0xF6 == 0xF0:
            return "audio/aac"
        if layer != 0 and bitrate not in (0, 15) and rate != 3:
            return "audio/mpeg"
    return None


def _text(head: bytes) -> str | None:
    if not head or b"\x00" in head:
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return None if controls > len(text) // 100 else text.lstrip("\ufeff")


def _text_kind(text: str, name: str, *, complete: bool) -> str:
    stripped = text.lstrip()
    if stripped.startswith("<"):
        prolog = _XML_PROLOG.match(stripped)
        if stripped[prolog.end() if prolog else 0 :].startswith("<svg"):
            return "image/svg+xml"
        if stripped.startswith("<?xml"):
            return "application/xml"
    gltf_hint = '"version"' in stripped or name.endswith(".gltf")
    if stripped.startswith("{") and '"asset"' in stripped and gltf_hint:
        return "model/gltf+json"
    if _looks_like_json(stripped, complete=complete):
        return "application/json"
    if _looks_like_obj(text, name):
        return "model/obj"
    return "text/plain"


def _looks_like_json(text: str, *, complete: bool) -> bool:
    if not text.startswith(("{", "[")):
        return False
    if complete:
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    return re.match(r'[{\[]\s*(["{\[\]}\d-]|true|false|null)', text) is not None


def _looks_like_obj(text: str, name: str) -> bool:
    lines = [ln.strip().encode() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if not any(ln.startswith(b"v ") for ln in lines):
        return False
    if name.endswith(".obj"):
        return True
    return len(lines) >= 3 and all(_OBJ_LINE.match(ln) for ln in lines[:-1])


def _looks_like_stl(head: bytes, name: str) -> bool:
    # Binary STL has no magic (and its 80-byte header may itself say "solid"), so the name decides.
    if name.endswith(".stl"):
        return len(head) >= 84 or head.startswith(b"solid")
    return re.match(rb"solid[ \t\r\n]", head) is not None and (b"facet" in head or b"endsolid" in head)
