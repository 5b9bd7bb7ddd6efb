"""Text in images with rapidocr (PP-OCR ONNX models shipped inside its wheel)."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from mediaforge.tagging.lazy import Lazy

__all__ = ["ENGINE", "TextLine", "read_text"]

_MIN_SCORE = 0.8
_WORDY = re.compile(r"[^\W_]{2,}")


@dataclass(frozen=True)
class TextLine:
    """One recognised line and the recogniser's confidence."""

    text: str
    score: float


def _load() -> Any:
    rapidocr = importlib.import_module("rapidocr")
    return rapidocr.RapidOCR(params={"Global.log_level": "error"})


ENGINE: Lazy[Any] = Lazy(_load)


def read_text(image: Image.Image, *, min_score: float = _MIN_SCORE) -> list[TextLine]:
    """Lines of text in reading order, keeping confident lines with at least one 2-character word."""
    engine = ENGINE.get()
    output = engine(np.asarray(image.convert("RGB")))
    texts = getattr(output, "txts", None) or ()
    scores = getattr(output, "scores", None) or ()
    lines = []
    for text, score in zip(texts, scores, strict=False):
        cleaned = " ".join(str(text).split())
        if float(score) >= min_score and _WORDY.search(cleaned):
            lines.append(TextLine(cleaned, round(float(score), 4)))
    return lines
