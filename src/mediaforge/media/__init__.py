"""Media identification: type sniffing from bytes and header-only image probing."""

from __future__ import annotations

from mediaforge.media.probe import ImageInfo, probe_image, verify_image
from mediaforge.media.sniff import OCTET_STREAM, SNIFF_BYTES, extension_for, sniff

__all__ = [
    "OCTET_STREAM",
    "SNIFF_BYTES",
    "ImageInfo",
    "extension_for",
    "probe_image",
    "sniff",
    "verify_image",
]
