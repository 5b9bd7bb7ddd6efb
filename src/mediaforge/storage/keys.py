"""Blob keys: the only strings that ever reach a backend, safe by construction.

A key is 1-512 characters: segments of ``[A-Za-z0-9._-]`` joined by ``/``, none empty, none ``.``
or ``..``. That rules out absolute paths, traversal, backslashes and control characters.
"""

from __future__ import annotations

import re
import uuid

from mediaforge.storage.base import InvalidKey

__all__ = ["MAX_KEY_LENGTH", "new_key", "validate_key"]

MAX_KEY_LENGTH = 512
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_EXT_CHARS = re.compile(r"[^a-z0-9]")
_MAX_EXT = 16


def validate_key(key: str) -> str:
    """Return ``key`` unchanged when it is a valid blob key; raise ``InvalidKey`` otherwise."""
    if not isinstance(key, str):
        raise InvalidKey(f"blob key must be a string, got {type(key).__name__}")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidKey(f"blob key must be 1-{MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if not segment:
            raise InvalidKey(f"blob key {key!r} has an empty segment or a leading slash")
        if segment in {".", ".."}:
            raise InvalidKey(f"blob key {key!r} has a relative segment")
        if not _SEGMENT.fullmatch(segment):
            raise InvalidKey(f"blob key {key!r} may only use letters, digits, '.', '_', '-' and '/'")
    return key


def new_key(prefix: str, filename_ext: str = "") -> str:
    """A fresh, fanned-out key under ``prefix``, e.g. ``assets/ab/cd/<uuid4hex>.png``.

    ``filename_ext`` may be ``"png"``, ``".PNG"`` or a whole filename; only the text after the last
    dot survives, lowercased and stripped to ``[a-z0-9]``.
    """
    validate_key(prefix)
    token = uuid.uuid4().hex
    ext = _EXT_CHARS.sub("", filename_ext.rsplit(".", 1)[-1].lower())[:_MAX_EXT]
    key = f"{prefix}/{token[:2]}/{token[2:4]}/{token}" + (f".{ext}" if ext else "")
    return validate_key(key)
