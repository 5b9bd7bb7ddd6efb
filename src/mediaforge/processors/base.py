"""The processor contract: ``run(ctx, inputs, params) -> Output``, plus its retry policy.

A processor is a plain function of input files and validated params. It never touches the
database or the blob store: the engine downloads inputs before and uploads outputs after.
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from mediaforge.config import Settings
    from mediaforge.jobs.schemas import JobRow

__all__ = [
    "Availability",
    "Context",
    "EmptyParams",
    "InputFile",
    "JobCancelled",
    "Output",
    "OutputFile",
    "PermanentFailure",
    "Processor",
    "Retry",
    "RetryPolicy",
]


class EmptyParams(BaseModel):
    """Params of a processor that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class InputFile:
    """One input asset, already on local disk."""

    asset_id: str
    path: Path
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class OutputFile:
    """A file the processor wrote under ``ctx.tmp_dir``; the engine stores it as an asset."""

    path: Path
    filename: str | None = None
    role: str = "output"


@dataclass(frozen=True)
class ChildSpec:
    """A child job to fan out; the parent waits until every child has finished."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)


@dataclass
class Output:
    """What a run produced: result JSON, files, and optionally children to fan out."""

    result: dict[str, Any] = field(default_factory=dict)
    files: list[OutputFile] = field(default_factory=list)
    children: list[ChildSpec] = field(default_factory=list)


class Context(Protocol):
    """What a running processor may ask of the engine."""

    job_id: str
    attempt: int
    tmp_dir: Path
    settings: Settings
    """The worker's settings (limits, model and provider configuration)."""

    def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress 0-100 with an optional message (coalesced by the engine)."""

    def check_cancelled(self) -> None:
        """Raise ``JobCancelled`` if cancellation was requested; call it between steps."""

    def log(self, event: str, **fields: Any) -> None:
        """Log with job_id bound."""


class JobCancelled(Exception):
    """Raised by ``ctx.check_cancelled()``; the engine records the job as cancelled."""


class PermanentFailure(Exception):
    """An error retrying cannot fix (bad input, unsupported format)."""

    def __init__(self, message: str, *, type: str = "permanent_failure") -> None:
        super().__init__(message)
        self.type = type


class Retry(Exception):
    """Ask to be retried after ``delay`` seconds (counts as an attempt)."""

    def __init__(self, message: str = "retry requested", *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


@dataclass(frozen=True)
class RetryPolicy:
    """How a processor's failures are retried: exponential backoff with full jitter."""

    max_attempts: int | None = None
    backoff: float | None = None
    backoff_max: float | None = None
    non_retryable: frozenset[str] = frozenset()

    def delay(self, attempt: int, *, base: float, cap: float) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` starts at 1)."""
        base = self.backoff if self.backoff is not None else base
        cap = self.backoff_max if self.backoff_max is not None else cap
        return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Availability:
    """Whether a processor can run here, and if not why and how to fix it."""

    available: bool
    reason: str | None = None
    hint: str | None = None


Run = Callable[[Context, list[InputFile], Any], Output]


@dataclass(frozen=True)
class Processor:
    """A named unit of work the engine can run."""

    name: str
    run: Run
    params: type[BaseModel] = EmptyParams
    description: str = ""
    capabilities: frozenset[str] = frozenset({"cpu"})
    requires: tuple[str, ...] = ()
    install_hint: str | None = None
    min_inputs: int = 0
    max_inputs: int | None = None
    timeout: float | None = 600.0
    queue: str = "default"
    retry: RetryPolicy = RetryPolicy()
    on_success: Callable[[Session, JobRow], None] | None = None
    """Called in the transaction that records the job as succeeded (the processor's own code
    never touches the database; this hook persists what its ``result`` says, atomically)."""

    def availability(self) -> Availability:
        """Available when every module in ``requires`` can be imported."""
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(False, f"missing module(s): {', '.join(missing)}", self.install_hint)
        return Availability(True)

    def parse_params(self, raw: dict[str, Any]) -> BaseModel:
        """Validate ``raw`` against ``params`` (raises pydantic.ValidationError)."""
        return self.params.model_validate(raw)
