"""The bus: "events up to id N are committed" wake-ups, in-process and across processes.

A bus never carries events themselves; the ``events`` table is the truth and readers follow its ids.
A lost wake-up therefore only delays delivery until the reader's next poll. ``publish`` is called
after each local commit that wrote events; it wakes this process's listeners at once and tells the
other processes: in-process (``MemoryBus``) there is nobody else, PostgreSQL already did it with the
``NOTIFY`` sent inside the transaction (``PostgresBus``), Redis gets a ``PUBLISH`` (``RedisBus``).

Listeners are called with the last committed id, from whatever thread learnt it; they must be quick
and must not block.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog

from mediaforge.engine.listener import PgListener
from mediaforge.events.repository import CHANNEL, off_commit, on_commit

if TYPE_CHECKING:
    from mediaforge.config import Settings

__all__ = ["Bus", "MemoryBus", "PostgresBus", "RedisBus", "announcing", "bus_from_settings"]

log = structlog.get_logger(__name__)

Listener = Callable[[int], None]
_RETRY_SECONDS = 1.0


class Bus(ABC):
    """Fans out committed event ids; ``start`` before use, ``close`` when done."""

    name: str = "bus"
    announces: bool = False
    """Whether other processes learn of a commit only through ``publish`` (not the database)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.last_received = 0
        """The highest id another process announced (0 until one did); for metrics and tests."""

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(last_id)`` for every local publish and every remote announcement."""
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def publish(self, last_id: int) -> None:
        """Announce that events up to ``last_id`` are committed: here at once, elsewhere soon."""
        self._deliver(last_id)
        self._send(last_id)

    @abstractmethod
    def start(self) -> None:
        """Connect to the backend (remote buses start daemon threads)."""

    @abstractmethod
    def close(self) -> None:
        """Disconnect; safe to call twice."""

    @abstractmethod
    def _send(self, last_id: int) -> None:
        """Tell the other processes (never blocks the committing thread)."""

    def _received(self, last_id: int) -> None:
        self.last_received = max(self.last_received, last_id)
        self._deliver(last_id)

    def _deliver(self, last_id: int) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(last_id)
            except Exception as exc:  # one broken listener must not break a commit or the others
                log.warning("bus_listener_failed", error=repr(exc))


class MemoryBus(Bus):
    """One process: local commits wake local listeners; nothing crosses a process boundary."""

    name = "memory"

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _send(self, last_id: int) -> None:
        pass


class _Daemon:
    """A named daemon thread running ``loop(stop)`` until ``stop`` is set."""

    def __init__(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        self.stop = threading.Event()
        self._thread = threading.Thread(target=loop, args=(self.stop,), name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self.stop.set()
        if self._thread.is_alive():
            self._thread.join(2)


class PostgresBus(Bus):
    """``LISTEN mediaforge_events``: every commit that wrote events sent ``NOTIFY`` with its last id."""

    name = "postgres"

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self._listener = PgListener(database_url, CHANNEL, lambda payload: self._received(int(payload)))

    def start(self) -> None:
        self._listener.start()

    def close(self) -> None:
        self._listener.stop()

    def wait_ready(self, timeout: float) -> bool:
        """Block until ``LISTEN`` is in place (tests; a real reader also polls)."""
        return self._listener.listening.wait(timeout)

    def _send(self, last_id: int) -> None:
        pass  # the outbox sent NOTIFY inside the transaction: it cannot announce an uncommitted id


class RedisBus(Bus):
    """Redis pub/sub on channel ``mediaforge_events``: ``PUBLISH`` after commit, ``SUBSCRIBE`` to hear.

    Publishing happens on a thread of its own and coalesces: when commits outrun Redis, only the
    newest id is sent, which is all a reader needs.
    """

    name = "redis"
    announces = True

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__()
        self._url = url
        self._channel = channel
        self._pending = 0
        self._wanted = threading.Condition()
        self._listening = threading.Event()
        self._publisher = _Daemon("mf-event-publish", self._publish_loop)
        self._listener = _Daemon("mf-event-subscribe", self._listen_loop)

    def start(self) -> None:
        _redis()  # fail now, with the install hint, rather than in a thread
        self._publisher.start()
        self._listener.start()

    def close(self) -> None:
        self._publisher.stop.set()
        with self._wanted:
            self._wanted.notify_all()
        self._publisher.join()
        self._listener.join()

    def wait_ready(self, timeout: float) -> bool:
        """Block until ``SUBSCRIBE`` is in place (tests; a real reader also polls)."""
        return self._listening.wait(timeout)

    def _send(self, last_id: int) -> None:
        with self._wanted:
            if last_id > self._pending:
                self._pending = last_id
                self._wanted.notify()

    def _publish_loop(self, stop: threading.Event) -> None:
        redis = _redis()
        client: Any = None
        sent = 0
        while True:
            with self._wanted:
                while self._pending <= sent and not stop.is_set():
                    self._wanted.wait()
                target = self._pending
            if target <= sent:
                break  # stopping, and everything was sent
            try:
                client = client or redis.Redis.from_url(self._url, socket_timeout=5)
                client.publish(self._channel, str(target))
                sent = target
            except Exception as exc:  # readers poll meanwhile; try again shortly
                log.warning("event_publish_failed", bus=self.name, error=str(exc))
                client = None
                if stop.wait(_RETRY_SECONDS):
                    break
        if client is not None:
            client.close()

    def _listen_loop(self, stop: threading.Event) -> None:
        redis = _redis()
        while not stop.is_set():
            try:
                client = redis.Redis.from_url(self._url, socket_timeout=5)
                with client, client.pubsub() as pubsub:
                    pubsub.subscribe(self._channel)
                    while not stop.is_set():
                        message = pubsub.get_message(timeout=0.25)
                        if message is None:
                            continue
                        if message["type"] == "subscribe":
                            self._listening.set()
                        elif message["type"] == "message":
                            self._received(int(message["data"]))
            except Exception as exc:  # reconnect; readers poll meanwhile
                self._listening.clear()
                log.warning("event_subscribe_failed", bus=self.name, error=str(exc))
                stop.wait(_RETRY_SECONDS)


def _redis() -> Any:
    try:
        import redis
    except ImportError as exc:  # an optional dependency
        raise RuntimeError("the Redis event bus needs redis-py: pip install redis") from exc
    return redis


def bus_from_settings(settings: Settings) -> Bus:
    """``bus_url``: '' (PostgreSQL NOTIFY on PostgreSQL, else in-process), ``redis://``, ``memory://``."""
    url = settings.bus_url.strip()
    if not url:
        return MemoryBus() if settings.is_sqlite else PostgresBus(settings.database_url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBus(url)
    if url.startswith("memory://"):
        return MemoryBus()
    raise ValueError(f"unsupported bus_url {url!r}: use '', redis://host:port/db or memory://")


@contextmanager
def announcing(settings: Settings) -> Iterator[None]:
    """Publish this process's commits on the configured bus, in a process without a hub.

    ``mediaforge worker`` needs it with a Redis bus; PostgreSQL's NOTIFY is sent by the transaction
    itself, and in-process buses have nobody to tell.
    """
    bus = bus_from_settings(settings)
    if not bus.announces:
        yield
        return
    bus.start()
    on_commit(bus.publish)
    try:
        yield
    finally:
        off_commit(bus.publish)
        bus.close()
