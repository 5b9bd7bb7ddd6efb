"""SUGGEST_PHOTOBOOK: chapters by time gaps and places, the best photos of each, page layouts.

Chapters. Dated photos are ordered by capture time; a new chapter starts where the gap to the
previous photo is longer than ``max(min_gap_hours, 10 x the median gap)`` (so the threshold
follows the pace of shooting), or where the photographer moved more than ``place_change_km``
with at least an hour between the two photos. Undated photos form a last chapter; a chapter of
nothing but copies of photos elsewhere is dropped.

Selection. Duplicate groups (``duplicates``, over the whole set) are collapsed to one photo
each, a dated one first, then the best; photos rank by quality within their chapter. Pages are
shared among chapters in proportion to their distinct photos (each at least one), the book
aiming at 2.5 photos a page within [``min_pages``, ``max_pages``]; a chapter gets at most
``max_photos_per_page`` photos a page.
Its best photo opens the chapter on a page of its own when the chapter has photos to spare;
the rest fill the pages in capture order. Layouts: ``full`` (1), ``two-side-by-side`` or
``two-stacked`` (2, by orientation), ``one-large-two-small`` (3), ``grid-2x2`` (4).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from mediaforge.photos.duplicates import Thresholds, duplicate_pairs, group_pairs
from mediaforge.photos.geo import distance_km
from mediaforge.photos.photoset import PhotoSet

__all__ = ["chapter_facts", "chapters", "suggest_photobook"]

_PACE = 10.0
_MOVE_GAP = 3600.0
_PHOTOS_PER_PAGE = 2.5


def chapters(photos: PhotoSet, *, min_gap_hours: float, place_change_km: float) -> list[list[int]]:
    """Row numbers of each chapter, in capture order."""
    dated = np.nonzero(~np.isnan(photos.taken))[0]
    order = dated[np.argsort(photos.taken[dated], kind="stable")]
    out: list[list[int]] = []
    if len(order):
        gaps = np.diff(photos.taken[order])
        median = float(np.median(gaps)) if len(gaps) else 0.0
        threshold = max(min_gap_hours * 3600.0, _PACE * median)
        current = [int(order[0])]
        last_fix = _position(photos, int(order[0]))
        for k in range(1, len(order)):
            i = int(order[k])
            here = _position(photos, i)
            moved = (
                last_fix is not None
                and here is not None
                and float(distance_km(*last_fix, *here)) > place_change_km
                and gaps[k - 1] >= _MOVE_GAP
            )
            if gaps[k - 1] > threshold or moved:
                out.append(current)
                current = []
            current.append(i)
            last_fix = here or last_fix
        out.append(current)
    undated = np.nonzero(np.isnan(photos.taken))[0]
    if len(undated):
        out.append(sorted(undated.tolist(), key=lambda i: str(photos.image_ids[i])))
    return out


def _position(photos: PhotoSet, i: int) -> tuple[float, float] | None:
    lat, lon = float(photos.lat[i]), float(photos.lon[i])
    return None if math.isnan(lat) or math.isnan(lon) else (lat, lon)


def chapter_facts(photos: PhotoSet, rows: list[int]) -> dict[str, Any]:
    """Dates, places and people of one chapter (what titles and captions are written from)."""
    times = [photos.taken_at(i) for i in rows]
    known = [t for t in times if t is not None]
    places = Counter(
        (str(photos.city[i]), str(photos.region[i]), str(photos.country[i])) for i in rows if photos.city[i]
    )
    faces = [int(photos.faces[i]) for i in rows if photos.faces[i] >= 0]
    top = places.most_common(1)[0][0] if places else None
    return {
        "photos": len(rows),
        "start": min(known).isoformat() if known else None,
        "end": max(known).isoformat() if known else None,
        "place": None if top is None else {"city": top[0], "region": top[1], "country": top[2]},
        "places": [
            {"city": c, "region": r, "country": k, "photos": n} for (c, r, k), n in places.most_common()
        ],
        "people": {
            "photos_with_faces": sum(1 for f in faces if f > 0),
            "max_faces": max(faces) if faces else 0,
        }
        if faces
        else None,
    }


def _copies(photos: PhotoSet) -> set[int]:
    """Rows to leave out: every duplicate group keeps one photo (dated first, then the best)."""
    drop: set[int] = set()
    for group in group_pairs(len(photos), duplicate_pairs(photos, Thresholds())):
        best = max(group, key=lambda x: (not np.isnan(photos.taken[x]), float(photos.quality[x]), -x))
        drop.update(x for x in group if x != best)
    return drop


def _shares(weights: list[int], total: int) -> list[int]:
    """``total`` split in proportion to ``weights``, each at least 1 (largest remainders)."""
    n = len(weights)
    base = [1] * n
    spare = total - n
    if spare <= 0:
        return base
    whole = sum(weights)
    exact = [spare * w / whole for w in weights]
    floors = [int(e) for e in exact]
    left = spare - sum(floors)
    for k in sorted(range(n), key=lambda k: -(exact[k] - floors[k]))[:left]:
        floors[k] += 1
    return [b + f for b, f in zip(base, floors, strict=True)]


def _layout(photos: PhotoSet, rows: list[int]) -> str:
    if len(rows) == 1:
        return "full"
    if len(rows) == 2:
        portrait = all(photos.height[i] > photos.width[i] for i in rows)
        return "two-side-by-side" if portrait else "two-stacked"
    return "one-large-two-small" if len(rows) == 3 else "grid-2x2"


def _pages(photos: PhotoSet, chosen: list[int], pages: int) -> list[list[int]]:
    """Spread ``chosen`` (best first) over ``pages``: the best alone first, then capture order."""
    if not chosen:
        return []
    pages = min(pages, len(chosen))
    hero, rest = chosen[0], sorted(chosen[1:], key=lambda i: (float(photos.taken[i]), i))
    if pages == 1:
        return [sorted(chosen, key=lambda i: (float(photos.taken[i]), i))]
    sizes = _shares([1] * (pages - 1), len(rest)) if rest else []
    out, start = [[hero]], 0
    for size in sizes:
        out.append(rest[start : start + size])
        start += size
    return [page for page in out if page]


def suggest_photobook(
    photos: PhotoSet,
    *,
    min_pages: int,
    max_pages: int,
    max_photos_per_page: int,
    min_gap_hours: float,
    place_change_km: float,
    titles: list[str] | None = None,
) -> dict[str, Any]:
    """The photobook suggestion; ``titles`` (one per chapter) come from SUGGEST_TEXT's writer."""
    found = chapters(photos, min_gap_hours=min_gap_hours, place_change_km=place_change_km)
    copies = _copies(photos)
    found = [rows for rows in found if any(i not in copies for i in rows)]  # not only copies
    while len(found) > max_pages:  # too many chapters for the book: merge the smallest with a neighbour
        k = min(range(len(found)), key=lambda c: len(found[c]))
        other = k - 1 if k > 0 else k + 1
        lo, hi = sorted((k, other))
        found[lo : hi + 1] = [found[lo] + found[hi]]
    distinct = [
        sorted((i for i in rows if i not in copies), key=lambda i: (-float(photos.quality[i]), i))
        for rows in found
    ]
    available = sum(len(d) for d in distinct)
    wanted = max(min_pages, min(max_pages, math.ceil(available / _PHOTOS_PER_PAGE)))
    shares = _shares([len(d) for d in distinct], max(wanted, len(found)))
    warnings: list[str] = []
    ids = photos.image_ids.tolist()
    out_chapters, page_no = [], 0
    for c, (rows, best, pages) in enumerate(zip(found, distinct, shares, strict=True)):
        chosen = best[: max_photos_per_page if pages == 1 else 1 + (pages - 1) * max_photos_per_page]
        laid: list[dict[str, Any]] = []
        for page in _pages(photos, chosen, pages):
            page_no += 1
            laid.append(
                {"page": page_no, "layout": _layout(photos, page), "image_ids": [ids[i] for i in page]}
            )
        facts = chapter_facts(photos, rows)
        out_chapters.append(
            {
                "index": c,
                "title": titles[c] if titles else None,
                **facts,
                "image_ids": [ids[i] for i in rows],
                "selected": [ids[i] for i in chosen],
                "pages": laid,
            }
        )
    if page_no < min_pages:
        warnings.append(
            f"only {available} distinct photos: {page_no} pages, fewer than min_pages={min_pages}"
        )
    return {
        "photos": len(photos),
        "selected": sum(len(c["selected"]) for c in out_chapters),
        "pages": page_no,
        "chapters": out_chapters,
        "warnings": warnings,
    }
