"""The processor registry: explicit built-ins, entry-point plugins, availability."""

from __future__ import annotations

from typing import Any

import pytest

from mediaforge.processors import registry as registry_module
from mediaforge.processors.base import Context, InputFile, Output, Processor
from mediaforge.processors.registry import Registry, UnknownProcessor


def _run(ctx: Context, inputs: list[InputFile], params: Any) -> Output:
    return Output()


PLUGIN = Processor("plugin.hello", _run, description="from a plugin")


class _EntryPoint:
    def __init__(self, name: str, target: object) -> None:
        self.name, self._target = name, target

    def load(self) -> object:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_entry_point_plugins_are_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin's entry point adds its processors; a broken plugin is skipped, not fatal."""
    points = [_EntryPoint("hello", lambda: [PLUGIN]), _EntryPoint("broken", ImportError("no"))]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: points)
    registry = Registry()
    registry.load_entry_points()
    assert ["plugin.hello"] == [p.name for p in registry]


def test_missing_dependency_makes_a_processor_unavailable_with_a_hint() -> None:
    """A processor whose module is missing says so and how to install it."""
    p = Processor("x.needs", _run, requires=("definitely_not_installed_mod",), install_hint="pip install x")
    availability = p.availability()
    assert (False, "pip install x") == (availability.available, availability.hint)


def test_unknown_processor_is_a_400() -> None:
    """Asking for a type nobody registered is a client error with a stable code."""
    with pytest.raises(UnknownProcessor) as info:
        Registry().get("nope")
    assert (400, "unknown_processor") == (info.value.status, info.value.code)


def test_runnable_filters_by_capability() -> None:
    """A host without a GPU does not run GPU processors."""
    gpu = Processor("gpu.thing", _run, capabilities=frozenset({"gpu"}))
    registry = Registry([PLUGIN, gpu])
    assert ["plugin.hello"] == [p.name for p in registry.runnable(frozenset({"cpu"}))]
