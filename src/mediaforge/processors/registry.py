"""The processor registry: built-ins registered explicitly, plugins through entry points."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from importlib.metadata import entry_points

import structlog

from mediaforge.errors import BadRequest
from mediaforge.processors.base import Processor

__all__ = ["ENTRY_POINT_GROUP", "Registry", "default_registry"]

ENTRY_POINT_GROUP = "mediaforge.processors"
log = structlog.get_logger(__name__)


class UnknownProcessor(BadRequest):
    code = "unknown_processor"


class Registry:
    """Processors by name."""

    def __init__(self, processors: list[Processor] | None = None) -> None:
        self._by_name: dict[str, Processor] = {}
        for processor in processors or []:
            self.register(processor)

    def register(self, processor: Processor) -> None:
        if processor.name in self._by_name:
            raise ValueError(f"processor {processor.name!r} registered twice")
        self._by_name[processor.name] = processor

    def get(self, name: str) -> Processor:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownProcessor(f"unknown processor type {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Processor]:
        return iter(sorted(self._by_name.values(), key=lambda p: p.name))

    def runnable(self, capabilities: frozenset[str]) -> list[Processor]:
        """Processors this host can run: available here and needing only ``capabilities``."""
        return [p for p in self if p.capabilities <= capabilities and p.availability().available]

    def load_entry_points(self) -> None:
        """Register third-party processors (each entry point yields a Processor or a list)."""
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
                items = loaded() if callable(loaded) and not isinstance(loaded, Processor) else loaded
                for processor in items if isinstance(items, list) else [items]:
                    self.register(processor)
            except Exception as exc:  # a broken plugin must not take the server down
                log.warning("plugin_load_failed", entry_point=ep.name, error=str(exc))


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Built-ins plus installed plugins; the same in the API, the worker and its children."""
    from mediaforge.processors.builtin import builtin_processors

    registry = Registry(builtin_processors())
    registry.load_entry_points()
    return registry
