"""Perceptual hashes (pHash, dHash) as 64-bit integers and their Hamming distances, in numpy.

pHash: the 32x32 grey image's DCT, the 8x8 lowest frequencies compared with their median
(as imagehash does). dHash: a 9x8 grey image, each pixel compared with its right neighbour.
Bit 63 is the first coefficient, so hashes print and sort the same as imagehash's hex strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["dhash", "hamming", "hamming_matrix", "phash", "to_signed", "to_unsigned"]

U64 = np.ndarray[Any, np.dtype[np.uint64]]
_N = 32
_K = np.arange(_N)
_DCT = (np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:, None] / (2 * _N)) * np.sqrt(2 / _N)).astype(np.float64)
_DCT[0] /= np.sqrt(2)
_WEIGHTS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def _pack(bits: np.ndarray[Any, np.dtype[np.bool_]]) -> int:
    return int(np.bitwise_or.reduce(_WEIGHTS[bits.ravel()], initial=np.uint64(0)))


def phash(grey32: np.ndarray[Any, Any]) -> int:
    """pHash of a 32x32 grey image (any numeric dtype)."""
    x = np.asarray(grey32, dtype=np.float64)
    if x.shape != (_N, _N):
        raise ValueError(f"pHash needs a {_N}x{_N} image, got {x.shape}")
    low = (_DCT @ x @ _DCT.T)[:8, :8]
    return _pack(low > np.median(low))


def dhash(grey9x8: np.ndarray[Any, Any]) -> int:
    """dHash of a grey image 8 rows by 9 columns."""
    x = np.asarray(grey9x8, dtype=np.float64)
    if x.shape != (8, 9):
        raise ValueError(f"dHash needs an 8x9 image, got {x.shape}")
    return _pack(x[:, 1:] > x[:, :-1])


def to_signed(value: int) -> int:
    """The signed 64-bit integer with the same bits (what a BIGINT column holds)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hamming_matrix(rows: U64, cols: U64) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Hamming distances between every hash in ``rows`` and every hash in ``cols``."""
    distances: np.ndarray[Any, np.dtype[np.uint8]] = np.bitwise_count(rows[:, None] ^ cols[None, :])
    return distances
