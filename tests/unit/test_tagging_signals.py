"""Signals report themselves: unavailable with an install hint when missing, the others still run."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from mediaforge.processors.builtin.image_tag import IMAGE_TAG
from mediaforge.processors.registry import Registry
from mediaforge.tagging import ML_INSTALL_HINT, SIGNALS, Status, TagOptions, mobilenet, tag_image
from mediaforge.tagging import colors as colors_module
from mediaforge.tagging.lazy import Lazy

MISSING = "mediaforge_no_such_module"


def without(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make the named signals need a module that is not installed."""
    for name in names:
        signal = SIGNALS[name]
        monkeypatch.setitem(SIGNALS, name, dataclasses.replace(signal, requires=(*signal.requires, MISSING)))


def red() -> Image.Image:
    return Image.new("RGB", (64, 64), (255, 0, 0))


def test_a_signal_missing_a_module_says_which_and_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Availability names the missing module and carries the signal's install hint."""
    without(monkeypatch, "people")
    availability = SIGNALS["people"].availability()
    expected = (False, f"missing module(s): {MISSING}", SIGNALS["people"].install_hint)
    assert expected == (availability.available, availability.reason, availability.install_hint)


def test_an_unavailable_signal_is_reported_and_the_others_still_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the labels signal missing, colours still tag the image and the result says why labels did not."""
    without(monkeypatch, "labels")
    result = tag_image(red(), TagOptions(signals=frozenset({"labels", "colors"}), extension="png"))
    labels = result.signals["labels"]
    expected = (Status.UNAVAILABLE, SIGNALS["labels"].install_hint, Status.OK, ["red"], None)
    actual = (
        labels.status,
        labels.install_hint,
        result.signals["colors"].status,
        result.keywords,
        result.labels,
    )
    assert expected == actual
    assert ("An image in red.", "red.png") == (result.alt_text, result.filename)


def test_signals_not_asked_for_are_skipped_and_vision_needs_configuring() -> None:
    """Unrequested signals are skipped; vision is skipped when no model is configured."""
    result = tag_image(red(), TagOptions(signals=frozenset({"colors", "vision"})))
    statuses = {name: report.status for name, report in result.signals.items()}
    expected = {
        "labels": Status.SKIPPED,
        "ocr": Status.SKIPPED,
        "people": Status.SKIPPED,
        "colors": Status.OK,
        "vision": Status.SKIPPED,
    }
    assert expected == statuses
    assert "no vision model configured" == result.signals["vision"].reason


def test_a_model_that_fails_to_load_makes_its_signal_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken install (the model import fails) is reported as unavailable, not as a failed job."""

    def broken() -> mobilenet.MobileNetV2:
        raise ImportError("libsomething.so: cannot open shared object file")

    monkeypatch.setitem(SIGNALS, "labels", dataclasses.replace(SIGNALS["labels"], requires=("numpy",)))
    monkeypatch.setattr(mobilenet, "MODEL", Lazy(broken))
    report = tag_image(red(), TagOptions(signals=frozenset({"labels"}))).signals["labels"]
    assert (Status.UNAVAILABLE, SIGNALS["labels"].install_hint) == (report.status, report.install_hint)
    assert "ImportError: libsomething.so" in (report.reason or "")


def test_a_signal_failing_on_an_image_is_reported_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error inside one signal marks it failed with the reason; the tagging itself completes."""

    def explode(image: Image.Image, *, k: int = 5) -> list[colors_module.Color]:
        raise ValueError("bad pixels")

    monkeypatch.setattr(colors_module, "dominant_colors", explode)
    result = tag_image(red(), TagOptions(signals=frozenset({"colors"})))
    report = result.signals["colors"]
    assert (Status.FAILED, "ValueError: bad pixels", "An image.") == (
        report.status,
        report.reason,
        result.alt_text,
    )


def test_tagging_is_unavailable_without_any_ml_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no labels, OCR or people signal installed, ``image.tag`` is unavailable with the ml hint."""
    without(monkeypatch, "labels", "ocr", "people")
    availability = IMAGE_TAG.availability()
    assert (False, ML_INSTALL_HINT) == (availability.available, availability.hint)
    assert "labels: missing module(s)" in (availability.reason or "")
    assert [] == Registry([IMAGE_TAG]).runnable(frozenset({"cpu"}))


def test_tagging_is_available_with_one_ml_signal(monkeypatch: pytest.MonkeyPatch) -> None:
    """One model signal is enough: the others report themselves unavailable per image."""
    without(monkeypatch, "labels", "people")
    monkeypatch.setitem(SIGNALS, "ocr", dataclasses.replace(SIGNALS["ocr"], requires=("numpy",)))
    assert IMAGE_TAG.availability().available
