"""Choosing the encoder level: as asked, under a byte target, or the smallest above an SSIM target.

Both searches are binary searches over the 1-100 level, trusting that size and SSIM grow with it
(true of every encoder here up to small wobbles; every chosen result is measured, never assumed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Choice", "choose"]

Encode = Callable[[int, bool], bytes]
"""``encode(level, squeeze) -> bytes``."""
Measure = Callable[[bytes], float]
"""SSIM of an encoding against the source."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The encoding chosen, its level, its SSIM when measured, and whether the targets were met."""

    data: bytes
    level: int
    ssim: float | None
    target_met: bool | None


class _Trials:
    """Encodings and SSIMs by level, each computed once."""

    def __init__(self, encode: Encode, measure: Measure | None) -> None:
        self._encode = encode
        self._measure = measure
        self._data: dict[int, bytes] = {}
        self._ssim: dict[int, float] = {}

    def data(self, level: int) -> bytes:
        if level not in self._data:
            self._data[level] = self._encode(level, False)
        return self._data[level]

    def size(self, level: int) -> int:
        return len(self.data(level))

    def ssim(self, level: int) -> float:
        assert self._measure is not None
        if level not in self._ssim:
            self._ssim[level] = self._measure(self.data(level))
        return self._ssim[level]

    def measured(self, level: int) -> float | None:
        return self._ssim.get(level)


def choose(
    encode: Encode, *, quality: int, max_bytes: int | None, min_ssim: float | None, measure: Measure | None
) -> Choice:
    """The encoding the targets ask for; with none, simply ``quality``.

    ``min_ssim``: the lowest level whose SSIM reaches it (searching 1-100, ``quality`` ignored).
    ``max_bytes``: the highest level up to ``quality`` (or up to the SSIM choice) that fits; when
    even level 1 does not fit, level 1 at the slowest settings, reported as not met.
    """
    trials = _Trials(encode, measure)
    if max_bytes is None and min_ssim is None:
        return Choice(trials.data(quality), quality, None, None)
    ssim_met = True
    ceiling = quality
    if min_ssim is not None:
        ceiling = _lowest(lambda level: trials.ssim(level) >= min_ssim, 1, 100)
        ssim_met = trials.ssim(ceiling) >= min_ssim
    if max_bytes is None or trials.size(ceiling) <= max_bytes:
        return Choice(trials.data(ceiling), ceiling, trials.measured(ceiling), ssim_met)
    if trials.size(1) > max_bytes:
        level, squeezed = 1, encode(1, True)
        data = squeezed if len(squeezed) < trials.size(1) else trials.data(1)
    else:
        level = _highest(lambda level: trials.size(level) <= max_bytes, 1, ceiling)
        data = trials.data(level)
    score = measure(data) if measure is not None and min_ssim is not None else None
    met = len(data) <= max_bytes and (score is None or min_ssim is None or score >= min_ssim)
    return Choice(data, level, score, met)


def _lowest(ok: Callable[[int], bool], low: int, high: int) -> int:
    """The lowest level in [low, high] where ``ok`` holds (``high`` when it never does)."""
    while low < high:
        middle = (low + high) // 2
        if ok(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _highest(ok: Callable[[int], bool], low: int, high: int) -> int:
    """The highest level in [low, high] where ``ok`` holds, given that it holds at ``low``."""
    while low < high:
        middle = (low + high + 1) // 2
        if ok(middle):
            low = middle
        else:
            high = middle - 1
    return low
