"""The pure core of workflows: spec models, validation, scheduling and parameter mapping.

A workflow is a list of steps; ``depends_on`` edges form a DAG and ``mappings`` copy values out of
an ancestor's result into a step's params (or its input assets) just before the step runs.
Nothing here touches a database or storage.

Paths are dotted: segments match ``[A-Za-z0-9_-]+`` and an all-digit segment indexes a list.
A mapping ``field`` of ``""`` or ``"$"`` is the whole result, and ``outputs`` / ``outputs.N``
address the step's output asset ids instead of its result JSON. A mapping ``param`` of
``"inputs"`` appends to the step's input assets instead of setting a param.
"""

from __future__ import annotations

import copy
import heapq
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mediaforge.errors import BadRequest

__all__ = [
    "InputMapping",
    "MappingError",
    "StepResult",
    "StepSpec",
    "StepState",
    "WorkflowInvalid",
    "WorkflowSpec",
    "WorkflowState",
    "get_path",
    "ready_steps",
    "resolve_params",
    "set_path",
    "to_resume",
    "validate",
    "workflow_state",
]

StepState = Literal["pending", "running", "succeeded", "failed", "cancelled"]
WorkflowState = Literal["running", "succeeded", "failed", "cancelled"]

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_WHOLE = ("", "$")
_OUTPUTS = "outputs"
_INPUTS = "inputs"


class WorkflowInvalid(BadRequest):
    """The spec cannot run as given; ``details`` lists every problem found."""

    code = "workflow_invalid"


class MappingError(BadRequest):
    """A mapping could not be applied to the actual result of its source step."""

    code = "mapping_failed"


class InputMapping(BaseModel):
    """Fill ``param`` of this step from ``field`` of the result of ancestor ``from_step``."""

    model_config = ConfigDict(extra="forbid")

    from_step: str
    field: str = ""
    param: str


class StepSpec(BaseModel):
    """One step: a processor ``type`` run with ``params`` on ``inputs`` once ``depends_on`` succeed."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    type: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    mappings: list[InputMapping] = Field(default_factory=list)
    queue: str | None = None
    priority: int | None = None
    max_attempts: int | None = Field(default=None, ge=1)


class WorkflowSpec(BaseModel):
    """A named list of 1 to 500 steps."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    steps: list[StepSpec] = Field(min_length=1, max_length=500)


@dataclass(frozen=True, slots=True)
class StepResult:
    """What a finished step left behind: its result JSON and its output asset ids."""

    result: dict[str, Any] | None = None
    outputs: list[str] = field(default_factory=list)


def validate(spec: WorkflowSpec) -> list[str]:
    """Return the step ids in topological order, or raise ``WorkflowInvalid`` listing every problem.

    Kahn's algorithm with ties broken by declaration order, so the order is deterministic.
    """
    problems: list[str] = []
    steps: dict[str, StepSpec] = {}
    for step in spec.steps:
        if step.id in steps:
            problems.append(f"duplicate step id {step.id!r}")
        else:
            steps[step.id] = step
    deps: dict[str, list[str]] = {}
    for sid, step in steps.items():
        for dep in step.depends_on:
            if dep == sid:
                problems.append(f"step {sid!r} depends on itself")
            elif dep not in steps:
                problems.append(f"step {sid!r} depends on unknown step {dep!r}")
        deps[sid] = list(dict.fromkeys(d for d in step.depends_on if d != sid and d in steps))
    order = _toposort(deps)
    if len(order) < len(deps):
        cycle = _find_cycle(deps, set(deps) - set(order))
        problems.append("dependency cycle: " + " -> ".join(cycle))
    for sid, step in steps.items():
        ancestors = _ancestors(deps, sid)
        for m in step.mappings:
            where = _describe(sid, m)
            if m.from_step not in steps:
                problems.append(f"{where}: unknown step {m.from_step!r}")
            elif m.from_step not in ancestors:
                problems.append(f"{where}: {m.from_step!r} is not an ancestor via depends_on")
            problems.extend(f"{where}: {p}" for p in _field_problems(m.field))
            if not _is_path(m.param):
                problems.append(f"{where}: malformed param path {m.param!r}")
    if problems:
        raise WorkflowInvalid("invalid workflow: " + "; ".join(problems), details=problems)
    return order


def ready_steps(spec: WorkflowSpec, status: Mapping[str, StepState]) -> list[str]:
    """Return, in declaration order, the pending steps whose every dependency has succeeded."""
    return [
        s.id
        for s in spec.steps
        if status.get(s.id, "pending") == "pending"
        and all(status.get(d) == "succeeded" for d in s.depends_on)
    ]


def to_resume(spec: WorkflowSpec, status: Mapping[str, StepState]) -> list[str]:
    """Return, in declaration order, the steps a resume must (re)run: failed, cancelled or not started.

    Succeeded steps keep their results and running steps are left to finish.
    """
    return [s.id for s in spec.steps if status.get(s.id, "pending") in ("pending", "failed", "cancelled")]


def workflow_state(spec: WorkflowSpec, status: Mapping[str, StepState]) -> WorkflowState:
    """Derive the workflow's state from its steps' states (missing steps count as pending).

    A pending step is *blocked* when a dependency failed, was cancelled or is itself blocked: it can
    never run.

    * ``succeeded``: every step succeeded.
    * ``running``: a step is running, or a pending step is not blocked (it can still run).
    * ``failed``: otherwise, when any step failed.
    * ``cancelled``: otherwise (some step was cancelled and nothing failed or can run).

    The spec must be valid (see ``validate``).
    """
    states = {s.id: status.get(s.id, "pending") for s in spec.steps}
    if all(st == "succeeded" for st in states.values()):
        return "succeeded"
    deps = {s.id: s.depends_on for s in spec.steps}
    blocked: set[str] = set()
    for sid in _toposort(deps):
        if states[sid] == "pending" and any(
            states.get(d) in ("failed", "cancelled") or d in blocked for d in deps[sid]
        ):
            blocked.add(sid)
    if any(st == "running" or (st == "pending" and sid not in blocked) for sid, st in states.items()):
        return "running"
    return "failed" if "failed" in states.values() else "cancelled"


def resolve_params(step: StepSpec, results: Mapping[str, StepResult]) -> tuple[dict[str, Any], list[str]]:
    """Apply ``step``'s mappings to copies of its params and inputs; raise ``MappingError`` on a miss."""
    params = copy.deepcopy(step.params)
    inputs = list(step.inputs)
    for m in step.mappings:
        try:
            if (source := results.get(m.from_step)) is None:
                raise LookupError(f"no result from step {m.from_step!r}")
            value = copy.deepcopy(_lookup(source, m.field))
            if m.param != _INPUTS:
                set_path(params, m.param, value)
            elif isinstance(value, str):
                inputs.append(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                inputs.extend(value)
            else:
                raise LookupError(f"inputs need an asset id or a list of them, got {type(value).__name__}")
        except LookupError as exc:
            details = {"step": step.id, "from_step": m.from_step, "field": m.field, "param": m.param}
            raise MappingError(f"{_describe(step.id, m)}: {exc.args[0]}", details=details) from exc
    return params, inputs


def get_path(obj: Any, dotted: str) -> Any:
    """Return the value at ``dotted`` inside ``obj``; ``""`` or ``"$"`` is ``obj`` itself.

    Raises ``LookupError`` naming the first segment that cannot be followed.
    """
    if dotted in _WHOLE:
        return obj
    for seg in dotted.split("."):
        if isinstance(obj, dict) and seg in obj:
            obj = obj[seg]
        elif isinstance(obj, list) and seg.isdecimal() and int(seg) < len(obj):
            obj = obj[int(seg)]
        else:
            raise LookupError(f"path {dotted!r} not found at {seg!r}")
    return obj


def set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``value`` at ``dotted`` inside ``obj``, creating missing intermediate dicts.

    List segments must index an existing element; raises ``LookupError`` when the path is blocked.
    """
    *parents, last = dotted.split(".")
    target: Any = obj
    for seg in parents:
        if isinstance(target, dict):
            target = target.setdefault(seg, {})
        elif isinstance(target, list) and seg.isdecimal() and int(seg) < len(target):
            target = target[int(seg)]
        else:
            raise LookupError(f"cannot set {dotted!r}: no container at {seg!r}")
    if isinstance(target, dict):
        target[last] = value
    elif isinstance(target, list) and last.isdecimal() and int(last) < len(target):
        target[int(last)] = value
    else:
        raise LookupError(f"cannot set {dotted!r}: no container at {last!r}")


def _lookup(source: StepResult, dotted: str) -> Any:
    if dotted.partition(".")[0] == _OUTPUTS:
        return get_path({_OUTPUTS: source.outputs}, dotted)
    if source.result is None:
        raise LookupError("the step produced no result")
    return get_path(source.result, dotted)


def _describe(sid: str, m: InputMapping) -> str:
    return f"step {sid!r} mapping {m.from_step}.{m.field or '$'} -> {m.param}"


def _is_path(dotted: str) -> bool:
    return all(_SEGMENT.fullmatch(seg) for seg in dotted.split("."))


def _field_problems(dotted: str) -> list[str]:
    if dotted in _WHOLE:
        return []
    if not _is_path(dotted):
        return [f"malformed field path {dotted!r}"]
    segs = dotted.split(".")
    if segs[0] == _OUTPUTS and (len(segs) > 2 or not all(s.isdecimal() for s in segs[1:])):
        return [f"field {dotted!r}: outputs takes at most one integer index"]
    return []


def _toposort(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm, earliest-declared ready step first; steps on or behind a cycle are left out."""
    ids = list(deps)
    index = {sid: i for i, sid in enumerate(ids)}
    children: dict[str, list[str]] = {sid: [] for sid in ids}
    waiting: dict[str, int] = {}
    for sid, ds in deps.items():
        known = set(ds) & deps.keys()
        waiting[sid] = len(known)
        for d in known:
            children[d].append(sid)
    heap = [i for i, sid in enumerate(ids) if waiting[sid] == 0]
    order: list[str] = []
    while heap:
        sid = ids[heapq.heappop(heap)]
        order.append(sid)
        for child in children[sid]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(heap, index[child])
    return order


def _find_cycle(deps: Mapping[str, Sequence[str]], stuck: set[str]) -> list[str]:
    """Walk dependencies inside ``stuck`` (each has one there) until a step repeats."""
    path = [next(sid for sid in deps if sid in stuck)]
    while True:
        nxt = next(d for d in deps[path[-1]] if d in stuck)
        if nxt in path:
            return [*path[path.index(nxt) :], nxt][::-1]
        path.append(nxt)


def _ancestors(deps: Mapping[str, Sequence[str]], sid: str) -> set[str]:
    seen: set[str] = set()
    todo = list(deps[sid])
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(deps.get(d, ()))
    return seen
