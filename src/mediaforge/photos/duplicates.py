"""Exact and near duplicates among a user's photos, grouped with union-find.

Two photos are duplicates when (thresholds at the default sensitivity 0.5):

* **exact**: the same bytes (sha256);
* **near** or **similar**, when any of these holds:
  - pHash within 10 bits of 64 and colour-and-structure cosine at least 0.8 (resized or
    recompressed; the cosine guards flat, textureless images that share a pHash);
  - both capture times known, at most a minute apart, and cosine at least 0.95 (crops, bursts);
  - cosine at least 0.97 and pHash within 24 bits (crops and bursts without capture times).

  A pair whose capture times differ by a second or more is two frames of one moment, a burst
  (**similar**); otherwise it is the same picture (**near**).

Candidate pairs come from blocks of a matrix product (cosines) and of vectorised Hamming
distances (XOR + popcount on uint64), upper triangle only; the rules are applied to the
candidates as arrays and groups are connected components found by label propagation, so no
Python loop runs per pair of photos. A pair's score is the mean of its cosine and its pHash
similarity (1 - bits/64); exact copies score 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mediaforge.photos.hashes import hamming_matrix
from mediaforge.photos.photoset import PhotoSet

__all__ = ["Pair", "Thresholds", "duplicate_pairs", "find_duplicates", "group_pairs"]

_BLOCK = 1024
_KINDS = ("exact", "near", "similar")


@dataclass(frozen=True)
class Thresholds:
    """What counts as a duplicate; ``for_sensitivity`` maps 0..1 onto these."""

    near_bits: int = 10
    near_cosine: float = 0.8
    similar_cosine: float = 0.97
    similar_bits: int = 24
    burst_seconds: float = 60.0
    burst_cosine: float = 0.95

    @classmethod
    def for_sensitivity(cls, s: float) -> Thresholds:
        return cls(
            near_bits=round(6 + 8 * s),
            near_cosine=0.9 - 0.2 * s,
            similar_cosine=0.985 - 0.03 * s,
            similar_bits=round(16 + 16 * s),
            burst_seconds=120.0 * s,
            burst_cosine=0.97 - 0.04 * s,
        )


@dataclass(frozen=True)
class Pair:
    a: int
    b: int
    kind: str
    score: float


def duplicate_pairs(photos: PhotoSet, t: Thresholds, *, similar: bool = True) -> list[Pair]:
    """Every duplicate pair (a < b) in ``photos``; bursts (``similar``) only when ``similar``."""
    n = len(photos)
    vectors = np.ascontiguousarray(photos.vectors, dtype=np.float32)
    hashes = photos.phash.astype(np.uint64)
    cosine_floor = min(t.similar_cosine, t.burst_cosine)
    found: dict[tuple[int, int], Pair] = {}
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        cos = vectors[start:stop] @ vectors[start:].T  # the columns from ``start`` on: upper triangle
        bits = hamming_matrix(hashes[start:stop], hashes[start:])
        upper = np.arange(stop - start)[:, None] < np.arange(n - start)[None, :]
        rows, cols = np.nonzero(
            upper & ((cos >= cosine_floor) | ((bits <= t.near_bits) & (cos >= t.near_cosine)))
        )
        a, b = rows + start, cols + start
        kinds = _kinds(photos, a, b, cos[rows, cols], bits[rows, cols], t)
        keep = (kinds == 1) | ((kinds == 2) & similar)
        scores = (np.minimum(cos[rows, cols], 1.0) + 1.0 - bits[rows, cols] / 64.0) / 2.0
        for x, y, kind, score in zip(
            a[keep].tolist(), b[keep].tolist(), kinds[keep].tolist(), scores[keep].tolist(), strict=True
        ):
            found[x, y] = Pair(x, y, _KINDS[kind], round(score, 4))
    for x, y in _same_bytes(photos):
        found[x, y] = Pair(x, y, "exact", 1.0)
    return sorted(found.values(), key=lambda p: (p.a, p.b))


def _kinds(photos: PhotoSet, a: Any, b: Any, cos: Any, bits: Any, t: Thresholds) -> Any:
    """``_kind`` over arrays of pairs: 1 near, 2 similar, -1 none (indexes into ``_KINDS``)."""
    gap = np.abs(photos.taken[a] - photos.taken[b])
    moment = np.where(gap >= 1.0, 2, 1)  # False for NaN: no times, no evidence of two frames
    near = (bits <= t.near_bits) & (cos >= t.near_cosine)
    burst = (gap <= t.burst_seconds) & (cos >= t.burst_cosine)
    loose = (cos >= t.similar_cosine) & (bits <= t.similar_bits)
    return np.where(near | burst, moment, np.where(loose, 2, -1))


def _kind(photos: PhotoSet, a: int, b: int, cos: float, bits: int, t: Thresholds) -> str | None:
    """``near`` (the same picture), ``similar`` (another frame of the moment) or None."""
    gap = abs(float(photos.taken[a]) - float(photos.taken[b]))  # NaN when either time is unknown
    moment = "similar" if gap >= 1.0 else "near"  # False for NaN: no times, no evidence of two frames
    if bits <= t.near_bits and cos >= t.near_cosine:
        return moment
    if gap <= t.burst_seconds and cos >= t.burst_cosine:
        return moment
    if cos >= t.similar_cosine and bits <= t.similar_bits:
        return "similar"
    return None


def _same_bytes(photos: PhotoSet) -> list[tuple[int, int]]:
    first: dict[str, int] = {}
    pairs: list[tuple[int, int]] = []
    for i, digest in enumerate(photos.sha256.tolist()):
        if digest in first:
            pairs.append((first[digest], i))
        else:
            first[digest] = i
    return pairs


def group_pairs(n: int, pairs: list[Pair]) -> list[list[int]]:
    """Connected components of two or more photos (label propagation with pointer jumping)."""
    if not pairs:
        return []
    a = np.array([p.a for p in pairs], dtype=np.int64)
    b = np.array([p.b for p in pairs], dtype=np.int64)
    labels = np.arange(n)
    while True:
        before = labels.copy()
        low = np.minimum(labels[a], labels[b])
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        labels = labels[labels]
        if np.array_equal(labels, before):
            break
    members = np.unique(np.concatenate([a, b]))
    order = members[np.argsort(labels[members], kind="stable")]
    cuts = np.nonzero(np.diff(labels[order]))[0] + 1
    return [sorted(group.tolist()) for group in np.split(order, cuts)]


def find_duplicates(photos: PhotoSet, t: Thresholds, *, similar: bool = True) -> dict[str, Any]:
    """DETECT_DUPLICATES' result: the groups, best photo first, with their pairs and scores."""
    pairs = duplicate_pairs(photos, t, similar=similar)
    by_root: dict[int, list[Pair]] = {}
    groups = group_pairs(len(photos), pairs)
    group_of = {x: g for g, members in enumerate(groups) for x in members}
    for pair in pairs:
        by_root.setdefault(group_of[pair.a], []).append(pair)
    ids = photos.image_ids.tolist()
    out = []
    for g, members in enumerate(groups):
        ranked = sorted(members, key=lambda x: (-float(photos.quality[x]), ids[x]))
        edges = by_root[g]
        kind = max((p.kind for p in edges), key=_KINDS.index)
        out.append(
            {
                "image_ids": [ids[x] for x in ranked],
                "keep": ids[ranked[0]],
                "kind": kind,
                "score": round(min(p.score for p in edges), 4),
                "pairs": [
                    {"image_ids": [ids[p.a], ids[p.b]], "kind": p.kind, "score": p.score} for p in edges
                ],
            }
        )
    out.sort(key=lambda group: (-len(group["image_ids"]), group["keep"]))
    return {
        "photos": len(photos),
        "groups": out,
        "duplicates": sum(len(group["image_ids"]) - 1 for group in out),
    }


def duplicates_of(photos: PhotoSet, index: int, t: Thresholds) -> dict[int, str]:
    """The rows that duplicate row ``index``, with the kind of each."""
    cos = photos.vectors @ photos.vectors[index]
    hashes = photos.phash.astype(np.uint64)
    bits = hamming_matrix(hashes[index : index + 1], hashes)[0]
    same = photos.sha256 == photos.sha256[index]
    maybe = (
        same
        | ((bits <= t.near_bits) & (cos >= t.near_cosine))
        | (cos >= min(t.similar_cosine, t.burst_cosine))
    )
    found: dict[int, str] = {}
    for j in np.nonzero(maybe)[0].tolist():
        if j == index:
            continue
        if same[j]:
            found[j] = "exact"
        elif kind := _kind(photos, index, j, float(cos[j]), int(bits[j]), t):
            found[j] = kind
    return found
