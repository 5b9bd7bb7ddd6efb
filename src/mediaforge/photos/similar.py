"""SUGGEST_ALTERNATIVE_IMAGES: a photo's nearest neighbours, its own copies left out.

Similarity is the cosine of MobileNetV2 embeddings when both photos have one (semantic: "same
kind of thing"), else of the colour-and-structure vectors. The photo's exact and near duplicates
(the same picture) are excluded; burst shots of the same moment are kept, marked ``burst``,
unless ``include_bursts`` is false. Candidates rank by ``similarity x (0.75 + 0.25 quality)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mediaforge.photos.duplicates import Thresholds, duplicates_of
from mediaforge.photos.embedding import MOBILENET
from mediaforge.photos.photoset import PhotoSet

__all__ = ["alternatives"]


def alternatives(
    photos: PhotoSet, index: int, *, limit: int, min_similarity: float, include_bursts: bool = True
) -> dict[str, Any]:
    """The result of SUGGEST_ALTERNATIVE_IMAGES for the photo at row ``index``."""
    sims, model = _similarities(photos, index)
    copies = duplicates_of(photos, index, Thresholds())
    excluded = {j for j, kind in copies.items() if kind in ("exact", "near") or not include_bursts}
    score = sims * (0.75 + 0.25 * photos.quality.astype(np.float32))
    candidates = [
        j
        for j in np.argsort(-score, kind="stable").tolist()
        if j != index and j not in excluded and sims[j] >= min_similarity
    ][:limit]
    ids = photos.image_ids.tolist()
    return {
        "image_id": ids[index],
        "embedding": model,
        "alternatives": [
            {
                "image_id": ids[j],
                "similarity": round(float(sims[j]), 4),
                "quality": round(float(photos.quality[j]), 4),
                "score": round(float(score[j]), 4),
                "burst": copies.get(j) == "similar",
            }
            for j in candidates
        ],
        "excluded_duplicates": sorted(ids[j] for j in excluded),
    }


def _similarities(photos: PhotoSet, index: int) -> tuple[np.ndarray[Any, Any], str]:
    colour = photos.vectors @ photos.vectors[index]
    embeddings = photos.embeddings
    if embeddings.shape[1] == 0 or not embeddings[index].any():
        return colour, "colour-structure"
    has = embeddings.any(axis=1)
    semantic = embeddings @ embeddings[index]
    return np.where(has, semantic, colour), MOBILENET
