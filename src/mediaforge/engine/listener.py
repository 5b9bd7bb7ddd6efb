"""PostgreSQL LISTEN on its own connection: a NOTIFY wakes idle workers in about a millisecond."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

__all__ = ["PgListener"]

log = structlog.get_logger(__name__)


class PgListener:
    """A daemon thread that calls ``on_notify(payload)`` for every notification on ``channel``."""

    def __init__(self, url: str, channel: str, on_notify: Callable[[str], None]) -> None:
        self._dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self._channel = channel
        self._on_notify = on_notify
        self.listening = threading.Event()
        """Set while ``LISTEN`` is in place."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mf-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    self.listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.2, stop_after=1):
                            self._on_notify(note.payload)
            except Exception as exc:  # reconnect: the poll interval covers the gap
                self.listening.clear()
                log.warning("listen_failed", channel=self._channel, error=str(exc))
                self._stop.wait(1.0)
