"""Time and identifiers: one place for "now" and for new ids."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

__all__ = ["new_id", "utcnow"]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A UUIDv7 string: random, but ordered by creation time (good for B-tree locality)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms & ((1 << 48) - 1)) << 80
        | 0x7 << 76
        | (rand >> 68 & 0xFFF) << 64
        | 0b10 << 62
        | rand & ((1 << 62) - 1)
    )
    return str(uuid.UUID(int=value))
