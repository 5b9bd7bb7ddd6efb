"""Run the signals on one image and turn what they found into alt text, keywords and a filename.

Signals run in ``SIGNALS`` order; each one that is missing, fails to load or fails on the image is
reported as such and the others go on. With a vision model configured, its alt text and keywords
lead and the local findings are merged in (and sent to it as hints); otherwise the alt text is
composed from the local findings alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from mediaforge.tagging import seo
from mediaforge.tagging.lazy import Lazy
from mediaforge.tagging.signals import SIGNALS, Status
from mediaforge.tagging.vision import VisionAnswer, VisionConfig, VisionError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SignalReport", "TagOptions", "TagResult", "tag_image"]


@dataclass(frozen=True)
class TagOptions:
    """What to run and how much to keep."""

    signals: frozenset[str] | None = None
    """Signal names to run; ``None`` runs all of them."""
    top_k: int = 5
    min_label_score: float = 0.2
    max_keywords: int = 10
    max_colors: int = 5
    extension: str = ""
    """The SEO filename's extension (without the dot)."""
    vision: VisionConfig | None = None


@dataclass(frozen=True)
class SignalReport:
    """How one signal fared: its status, time taken, and why / how to fix when it did not run."""

    status: Status
    seconds: float | None = None
    """Time spent on this image, model loading excluded."""
    load_seconds: float | None = None
    """Time spent loading the model, when this call loaded it (once per process)."""
    reason: str | None = None
    install_hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        values = {"status": self.status.value, "seconds": self.seconds, "load_seconds": self.load_seconds}
        values |= {"reason": self.reason, "install_hint": self.install_hint}
        return {k: v for k, v in values.items() if v is not None}


@dataclass
class TagResult:
    """Everything tagging found about one image."""

    alt_text: str
    keywords: list[str]
    filename: str
    source: str
    """``vision`` when the vision model wrote the alt text, else ``local``."""
    signals: dict[str, SignalReport]
    labels: list[tuple[str, float]] | None = None
    groups: list[tuple[str, float]] | None = None
    embedding: np.ndarray[Any, np.dtype[np.float32]] | None = None
    text: list[str] | None = None
    faces: int | None = None
    persons: int | None = None
    colors: list[dict[str, Any]] | None = None
    vision: VisionAnswer | None = None

    def as_dict(self, *, embedding: bool = False) -> dict[str, Any]:
        """JSON-ready; the 1280 floats of the embedding only when asked for."""
        result: dict[str, Any] = {
            "alt_text": self.alt_text,
            "keywords": self.keywords,
            "filename": self.filename,
            "source": self.source,
            "labels": _scored(self.labels),
            "label_groups": _scored(self.groups),
            "text": self.text,
            "faces": self.faces,
            "persons": self.persons,
            "colors": self.colors,
            "vision": None if self.vision is None else asdict(self.vision),
            "signals": {name: report.as_dict() for name, report in self.signals.items()},
        }
        if embedding:
            vector = self.embedding
            result["embedding"] = None if vector is None else [round(float(v), 6) for v in vector]
        return result


def _scored(pairs: list[tuple[str, float]] | None) -> list[dict[str, Any]] | None:
    return None if pairs is None else [{"name": name, "score": round(score, 4)} for name, score in pairs]


@dataclass
class _Run:
    image: Image.Image
    options: TagOptions
    reports: dict[str, SignalReport] = field(default_factory=dict)
    found: dict[str, Any] = field(default_factory=dict)


def tag_image(
    image: Image.Image, options: TagOptions | None = None, *, on_signal: Callable[[str], None] | None = None
) -> TagResult:
    """Tag ``image`` (already loaded and oriented). ``on_signal(name)`` is called before each signal."""
    run = _Run(image, options or TagOptions())
    for name, signal in SIGNALS.items():
        if on_signal is not None:
            on_signal(name)
        wanted = run.options.signals is None or name in run.options.signals
        if not wanted:
            run.reports[name] = SignalReport(Status.SKIPPED, reason="not requested")
            continue
        if name == "vision" and run.options.vision is None:
            run.reports[name] = SignalReport(Status.SKIPPED, reason="no vision model configured")
            continue
        availability = signal.availability()
        if not availability.available:
            run.reports[name] = SignalReport(
                Status.UNAVAILABLE, reason=availability.reason, install_hint=availability.install_hint
            )
            continue
        run.reports[name] = _RUNNERS[name](run)
    return _summarize(run)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - start, 4)


def _guarded(name: str, run: _Run, model: Lazy[Any] | None, work: Callable[[], Any]) -> SignalReport:
    """Load the model (a failure means unavailable), then run it (a failure means failed)."""
    load_seconds = None
    if model is not None and not model.loaded:
        try:
            _, load_seconds = _timed(model.get)
        except Exception as exc:  # a broken install must not fail the job: the signal is unavailable
            reason = f"model failed to load: {type(exc).__name__}: {exc}"
            return SignalReport(Status.UNAVAILABLE, reason=reason, install_hint=SIGNALS[name].install_hint)
    try:
        run.found[name], seconds = _timed(work)
    except Exception as exc:  # one signal failing on an image leaves the others standing
        return SignalReport(Status.FAILED, reason=f"{type(exc).__name__}: {exc}")
    return SignalReport(Status.OK, seconds, load_seconds=load_seconds)


def _labels(run: _Run) -> SignalReport:
    from mediaforge.tagging.mobilenet import MODEL

    return _guarded("labels", run, MODEL, lambda: MODEL.get().classify(run.image, top_k=run.options.top_k))


def _ocr(run: _Run) -> SignalReport:
    from mediaforge.tagging.ocr import ENGINE, read_text

    return _guarded("ocr", run, ENGINE, lambda: read_text(run.image))


def _people(run: _Run) -> SignalReport:
    from mediaforge.tagging.people import DETECTORS, count_people

    return _guarded("people", run, DETECTORS, lambda: count_people(run.image))


def _colors(run: _Run) -> SignalReport:
    from mediaforge.tagging.colors import dominant_colors

    return _guarded("colors", run, None, lambda: dominant_colors(run.image, k=run.options.max_colors))


def _vision(run: _Run) -> SignalReport:
    from mediaforge.tagging.vision import describe

    config = run.options.vision
    assert config is not None
    hints = _hints(_findings(run))
    try:
        run.found["vision"], seconds = _timed(lambda: describe(run.image, config, hints=hints))
    except VisionError as exc:
        return SignalReport(Status.FAILED, reason=str(exc))
    return SignalReport(Status.OK, seconds)


_RUNNERS: dict[str, Callable[[_Run], SignalReport]] = {
    "labels": _labels,
    "ocr": _ocr,
    "people": _people,
    "colors": _colors,
    "vision": _vision,
}


def _findings(run: _Run) -> seo.Findings:
    found = run.found
    classification = found.get("labels")
    people = found.get("people")
    return seo.Findings(
        labels=[(x.name, x.score) for x in classification.labels] if classification else [],
        groups=[(x.name, x.score) for x in classification.groups] if classification else [],
        text=[line.text for line in found.get("ocr", [])],
        faces=people.faces if people is not None else None,
        persons=people.persons if people is not None else None,
        colors=[(c.name, c.fraction) for c in found.get("colors", [])],
    )


def _hints(findings: seo.Findings) -> list[str]:
    hints = []
    labels = [name for name, score in findings.labels[:3] if score >= 0.1]
    if labels:
        hints.append(f"ImageNet labels: {', '.join(labels)}")
    if findings.text:
        hints.append(f'text read: "{" ".join(findings.text)[:200]}"')
    if findings.persons is not None:
        hints.append(f"{findings.persons} person(s), {findings.faces} face(s)")
    if findings.colors:
        hints.append(f"colours: {', '.join(n for n, _ in findings.colors)}")
    return hints


def _summarize(run: _Run) -> TagResult:
    findings = _findings(run)
    answer: VisionAnswer | None = run.found.get("vision")
    options = run.options
    alt_text = answer.alt_text if answer is not None else seo.compose_alt_text(findings)
    keywords = seo.rank_keywords(
        findings,
        vision=answer.keywords if answer is not None else (),
        min_label_score=options.min_label_score,
        limit=options.max_keywords,
    )
    classification = run.found.get("labels")
    colors = run.found.get("colors")
    return TagResult(
        alt_text=alt_text,
        keywords=keywords,
        filename=seo.seo_filename(alt_text, keywords, options.extension),
        source="vision" if answer is not None else "local",
        signals=run.reports,
        labels=list(findings.labels) if classification else None,
        groups=list(findings.groups) if classification else None,
        embedding=classification.embedding if classification else None,
        text=list(findings.text) if "ocr" in run.found else None,
        faces=findings.faces,
        persons=findings.persons,
        colors=None
        if colors is None
        else [{"name": c.name, "hex": c.hex, "fraction": c.fraction} for c in colors],
        vision=answer,
    )
