"""A model loaded once per process, on first use, whichever thread asks first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Lazy"]

T = TypeVar("T")


class Lazy(Generic[T]):
    """Calls ``factory`` the first time ``get`` is called and keeps what it returned.

    A failed load is not kept, so a later call tries again (a missing package installed
    meanwhile, a transient error). ``lock`` also serialises callers of models that are not
    re-entrant.
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._loaded = False
        self.lock = threading.RLock()

    def get(self) -> T:
        if not self._loaded:
            with self.lock:
                if not self._loaded:
                    self._value = self._factory()
                    self._loaded = True
        return self._value  # type: ignore[return-value]  # set together with _loaded

    @property
    def loaded(self) -> bool:
        return self._loaded

    def reset(self) -> None:
        """Forget the loaded value (tests, or to free the model's memory)."""
        with self.lock:
            self._value, self._loaded = None, False
