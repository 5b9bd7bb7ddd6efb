"""The process-wide handles: settings, database, blob storage and processors, built once."""

from __future__ import annotations

from dataclasses import dataclass

from mediaforge.config import Settings
from mediaforge.db.engine import Database
from mediaforge.processors.registry import Registry, default_registry
from mediaforge.ratelimit import RateLimiter
from mediaforge.storage import Storage, storage_from_settings

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """Everything a service call needs besides its session."""

    settings: Settings
    db: Database
    storage: Storage
    registry: Registry
    limiter: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        db = Database(settings.database_url, pool_size=settings.db_pool_size, echo=settings.db_echo)
        return cls(
            settings=settings,
            db=db,
            storage=storage_from_settings(settings),
            registry=default_registry(),
            limiter=RateLimiter(settings),
        )

    def close(self) -> None:
        self.db.dispose()
