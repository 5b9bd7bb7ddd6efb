"""Config validation (pure): errors and warnings for a config keyed by pipeline name.

A config is ``{pipeline: {parameter: value}}`` (the contract's example) or flat
``{parameter: value}`` (what the original server's own tests send): a flat key applies to each
selected pipeline that has it, and a pipeline's own section wins over it.

Errors: an unknown pipeline in the selection, a section that is not an object, a wrong type, a
value out of range ("must be between X and Y"), an invalid option. Warnings: unknown parameter keys
and sections for pipelines that are not selected (both are dropped from what the jobs receive), and
pipelines whose processor is missing here (their section cannot be checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mediaforge.faces.videoannotator.pipelines import Pipeline, config_schema, find, resolve
from mediaforge.faces.videoannotator.schemas import Issue
from mediaforge.processors.registry import Registry

__all__ = ["Outcome", "check_value", "validate"]

_TYPE_WORDS = {"float": "a number", "int": "an integer", "bool": "a boolean", "str": "a string"}


@dataclass
class Outcome:
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)
    """The pipelines whose sections were checked."""
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Canonical pipeline name -> the known, valid keys of its section (unknown keys dropped)."""

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def message(self) -> str:
        if self.errors:
            return f"Configuration has {len(self.errors)} error(s)"
        if self.warnings:
            return f"Configuration is valid with {len(self.warnings)} warning(s)"
        return "Configuration is valid"

    def summary(self) -> str:
        """The submit-time 400 message: every error as ``pipeline: message``."""
        parts = [f"{e.pipeline}: {e.message}" if e.pipeline else e.message for e in self.errors]
        return "Configuration validation failed: " + "; ".join(parts)


def validate(config: dict[str, Any], selected: list[str] | None, registry: Registry) -> Outcome:
    """Check ``config`` against the ``selected`` pipelines (None: the pipelines the config names)."""
    out = Outcome()
    if selected is None:
        targets, _ = resolve([key for key in config if find(key) is not None])
    else:
        targets, unknown = resolve(selected)
        for name in unknown:
            out.errors.append(_unknown_pipeline(name))
    sections: dict[str, Any] = {}
    flat: dict[str, Any] = {}
    for key, section in config.items():
        pipeline = find(key)
        if pipeline is None and not isinstance(section, dict):
            flat[key] = section  # a flat config: applies to each selected pipeline that has the key
        elif pipeline is None:
            out.warnings.append(
                Issue(
                    pipeline=key,
                    field=None,
                    message=f"Configuration for unknown pipeline '{key}' is ignored",
                    severity="warning",
                    error_code="UNKNOWN_PIPELINE_CONFIG",
                    hint="Use GET /api/v1/pipelines to list available pipelines",
                )
            )
        elif pipeline not in targets:
            out.warnings.append(
                Issue(
                    pipeline=pipeline.name,
                    field=None,
                    message=f"Configuration for '{pipeline.name}' is ignored: the pipeline is not selected",
                    severity="warning",
                    error_code="PIPELINE_NOT_SELECTED",
                    hint=f"Add {pipeline.name} to selected_pipelines or remove its configuration",
                )
            )
        else:
            sections[pipeline.name] = section
    used: set[str] = set()
    for pipeline in targets:
        section = sections.get(pipeline.name, {})
        if flat and isinstance(section, dict):
            known = config_schema(pipeline.params(registry))
            shared = {k: v for k, v in flat.items() if k in known}
            used.update(shared)
            section = {**shared, **section}  # the pipeline's own section wins
        _check_section(out, pipeline, section, registry)
    for key, value in flat.items():
        if key not in used:
            out.warnings.append(
                Issue(
                    pipeline=None,
                    field=key,
                    message=f"Unknown parameter '{key}' is ignored: no selected pipeline has it",
                    value=value,
                    severity="warning",
                    error_code="UNKNOWN_PARAMETER",
                    hint='Key the parameter by pipeline name, e.g. {"person_tracking": {...}}',
                )
            )
    return out


def _unknown_pipeline(name: str) -> Issue:
    return Issue(
        pipeline=name,
        field=None,
        message=f"Pipeline '{name}' not found",
        value=name,
        severity="error",
        error_code="PIPELINE_NOT_FOUND",
        hint="Use GET /api/v1/pipelines to list available pipelines",
    )


def _check_section(out: Outcome, pipeline: Pipeline, section: Any, registry: Registry) -> None:
    name = pipeline.name
    if section is None:
        section = {}
    if not isinstance(section, dict):
        out.errors.append(
            Issue(
                pipeline=name,
                field=None,
                message=f"Configuration for {name} must be an object",
                value=section,
                severity="error",
                error_code="INVALID_TYPE",
            )
        )
        return
    model = pipeline.params(registry)
    if model is None:
        out.warnings.append(
            Issue(
                pipeline=name,
                field=None,
                message=f"Pipeline {name} is not available on this server; its configuration was not checked",
                severity="warning",
                error_code="PIPELINE_UNAVAILABLE",
            )
        )
        return
    out.validated.append(name)
    schema = config_schema(model)
    before = len(out.errors)
    kept: dict[str, Any] = {}
    for key, value in section.items():
        spec = schema.get(key)
        if spec is None:
            out.warnings.append(
                Issue(
                    pipeline=name,
                    field=key,
                    message=f"Unknown parameter '{key}' for {name} is ignored",
                    value=value,
                    severity="warning",
                    error_code="UNKNOWN_PARAMETER",
                    hint=f"Known parameters: {', '.join(schema)}",
                )
            )
            continue
        problem = check_value(key, value, spec)
        if problem is not None:
            out.errors.append(problem.model_copy(update={"pipeline": name}))
        else:
            kept[key] = value
    if len(out.errors) > before:
        return
    try:  # the model has the last word (cross-field rules, coercions)
        kept = model.model_validate(kept).model_dump(mode="json", include=set(kept))
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or None
            out.errors.append(
                Issue(
                    pipeline=name,
                    field=loc,
                    message=f"Invalid value for {loc}: {e['msg']}" if loc else e["msg"],
                    value=e.get("input"),
                    severity="error",
                    error_code="INVALID_VALUE",
                )
            )
        return
    out.params[name] = kept


def check_value(key: str, value: Any, spec: dict[str, Any]) -> Issue | None:
    """The error for ``value`` under one ``config_schema`` entry, or None when it is acceptable."""
    kind = spec["type"]
    default = spec.get("default")
    if value is None:
        if spec.get("nullable"):
            return None
        return _type_error(key, value, kind, default)
    if kind == "select":
        options = spec.get("options", [])
        if value in options:
            return None
        choices = ", ".join(map(str, options))
        return _invalid(
            key, value, f"must be one of {choices}", "INVALID_OPTION", f"Choose one of: {choices}", default
        )
    if not _has_type(value, kind):
        return _type_error(key, value, kind, default)
    if kind in ("int", "float"):
        return _range_error(key, value, spec)
    return None


def _has_type(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "float":
        return isinstance(value, int | float)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list)
    if kind == "dict":
        return isinstance(value, dict)
    return True


def _type_error(key: str, value: Any, kind: str, default: Any) -> Issue:
    word = _TYPE_WORDS.get(kind, f"a {kind}")
    return _invalid(
        key, value, f"must be {word}", "INVALID_TYPE", f"Use {word}, e.g. the default {default!r}", default
    )


def _range_error(key: str, value: float, spec: dict[str, Any]) -> Issue | None:
    lo, hi = spec.get("min"), spec.get("max")
    below = lo is not None and (value <= lo if spec.get("exclusive_min") else value < lo)
    above = hi is not None and (value >= hi if spec.get("exclusive_max") else value > hi)
    if not (below or above):
        return None
    if lo is not None and hi is not None:
        bound = f"must be between {_num(lo)} and {_num(hi)}"
    elif lo is not None:
        bound = f"must be {'greater than' if spec.get('exclusive_min') else 'at least'} {_num(lo)}"
    else:
        bound = f"must be {'less than' if spec.get('exclusive_max') else 'at most'} {_num(hi)}"
    return _invalid(key, value, bound, "OUT_OF_RANGE", bound.capitalize(), lo if below else hi)


def _invalid(key: str, value: Any, why: str, code: str, hint: str, suggested: Any) -> Issue:
    """An error on one key: "Invalid value for <key> (<why>)", with its code, hint and a value to use."""
    return Issue(
        pipeline=None,
        field=key,
        message=f"Invalid value for {key} ({why})",
        value=value,
        severity="error",
        error_code=code,
        hint=hint,
        suggested_value=suggested,
    )


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
