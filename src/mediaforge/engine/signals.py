"""In-process wake-ups: the API wakes the embedded worker without waiting for its poll."""

from __future__ import annotations

import threading

__all__ = ["wait", "wake"]

_event = threading.Event()


def wake() -> None:
    """Tell local workers that new work may be waiting."""
    _event.set()


def wait(timeout: float) -> bool:
    """Block until woken or ``timeout`` passes; returns True when woken."""
    woken = _event.wait(timeout)
    _event.clear()
    return woken
