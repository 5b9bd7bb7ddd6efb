"""The hub: one per API process, it follows the events table and fans new rows out to live readers.

A bus wake-up (or, should one be lost, a poll every second) makes the hub read the rows after its
cursor, in a thread, and offer each to the readers whose filter matches. Every reader has a bounded
buffer (``sse_queue_size``); one that falls that far behind is cut off, its stream ends, and the client
resumes from the table with ``Last-Event-ID``. So a slow reader costs the hub one failed append and
never holds up anybody else.

A reader follows with ``hub.follow(filter, after_id)``: history from the table first (when it gives
an ``after_id``), then live events, with neither gaps nor duplicates.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from anyio import to_thread
from prometheus_client import Counter, Gauge

from mediaforge.events import repository
from mediaforge.events.bus import Bus, bus_from_settings
from mediaforge.events.types import matches
from mediaforge.metrics import REGISTRY

if TYPE_CHECKING:
    from mediaforge.config import Settings
    from mediaforge.db.engine import Database
    from mediaforge.events.models import Event
    from mediaforge.runtime import Runtime

__all__ = ["CutOff", "Feed", "Filter", "Hub", "Message"]

log = structlog.get_logger(__name__)

POLL_SECONDS = 1.0
"""How often the hub reads the table anyway, in case a bus wake-up was lost."""
PAGE = 500
"""Rows per read, for the hub and for a reader's history."""

SUBSCRIBERS = Gauge("mediaforge_event_readers", "Live event readers (SSE, websocket)", registry=REGISTRY)
CUT_OFF = Counter("mediaforge_event_readers_cut_off_total", "Readers cut off as too slow", registry=REGISTRY)
BUS_LAST_ID = Gauge(
    "mediaforge_event_bus_last_id", "Highest event id another process announced on the bus", registry=REGISTRY
)


@dataclass(frozen=True, slots=True)
class Message:
    """One event as readers send it; the payload is serialized once for every reader."""

    id: int
    type: str
    owner_id: str
    job_id: str | None
    workflow_id: str | None
    data: str
    """The payload as JSON text."""
    sse: bytes
    """The whole SSE frame: ``id:``, ``event:``, ``data:`` and the blank line."""

    @classmethod
    def of(cls, event: Event) -> Message:
        data = json.dumps(event.payload, separators=(",", ":"))
        frame = f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()
        return cls(event.id, event.type, event.owner_id, event.job_id, event.workflow_id, data, frame)

    def json(self) -> str:
        """``{"id", "type", "data"}`` as one JSON text (the websocket frame)."""
        return f'{{"id":{self.id},"type":{json.dumps(self.type)},"data":{self.data}}}'


@dataclass(frozen=True)
class Filter:
    """What a reader wants: one owner's events (every owner's for admins: None), maybe only some
    jobs, a workflow, types."""

    owner_id: str | None
    job_ids: frozenset[str] | None = None
    workflow_id: str | None = None
    types: frozenset[str] | None = None
    """Exact type names and ``prefix.*`` patterns."""

    def matches(self, message: Message) -> bool:
        return (
            (self.owner_id is None or message.owner_id == self.owner_id)
            and (self.job_ids is None or message.job_id in self.job_ids)
            and (self.workflow_id is None or message.workflow_id == self.workflow_id)
            and (self.types is None or any(matches(t, message.type) for t in self.types))
        )

    def query(self) -> dict[str, Any]:
        """The same filter as ``events.repository.since`` arguments."""
        return {
            "owner_id": self.owner_id,
            "job_ids": self.job_ids,
            "workflow_id": self.workflow_id,
            "types": self.types,
        }


class CutOff(Exception):
    """The reader fell more than ``sse_queue_size`` events behind; it resumes from the table."""


class _Subscription:
    """A reader's bounded buffer of live messages, filled by the hub, drained by the reader."""

    def __init__(self, flt: Filter, limit: int, start_id: int) -> None:
        self.filter = flt
        self.start_id = start_id
        """The hub's cursor at registration: every matching event after it is offered."""
        self.cut_off = False
        self._limit = limit
        self._items: deque[Message] = deque()
        self._ready = asyncio.Event()

    def offer(self, message: Message) -> bool:
        """Buffer ``message``; False (and the reader is cut off) when the buffer is full."""
        if len(self._items) >= self._limit:
            self.end()
            return False
        self._items.append(message)
        self._ready.set()
        return True

    def end(self) -> None:
        """Make the reader stop (it sees ``CutOff``)."""
        self.cut_off = True
        self._items.clear()
        self._ready.set()

    async def take(self, timeout: float) -> list[Message]:
        """Everything buffered; waits up to ``timeout`` s for something, then returns []."""
        if not self._items and not self.cut_off:
            try:
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            except TimeoutError:
                return []
        if self.cut_off:
            raise CutOff
        self._ready.clear()
        items = list(self._items)
        self._items.clear()
        return items


class Feed:
    """One reader's view of the events: the table after ``after_id``, then live, gap- and duplicate-free.

    Without ``after_id`` the reader is registered from the start (``Hub.follow`` returns it so);
    with one, ``history()`` registers it midway. Read ``history()`` first, then ``next()``.
    """

    def __init__(self, hub: Hub, flt: Filter, after_id: int | None) -> None:
        self._hub = hub
        self._filter = flt
        self._after = after_id
        self._sub: _Subscription | None = None
        self.last_id = 0
        """The id of the last event handed to the reader (or its resume point)."""

    def _live_now(self) -> None:
        if self._after is None:
            self._sub = self._hub._subscribe(self._filter)
            # Live means "committed after now": skip what was announced but not read yet.
            self.last_id = max(self._sub.start_id, self._hub._target)

    async def history(self) -> AsyncIterator[list[Message]]:
        """Pages of stored events after ``after_id`` (none without one), oldest first."""
        if self._after is None:
            return
        self.last_id = self._after
        # Catch up before registering, so that a long history cannot overflow the live buffer;
        # then register and read once more for what was committed in between.
        async for page in self._pages():
            yield page
        self._sub = self._hub._subscribe(self._filter)
        async for page in self._pages():
            yield page

    async def next(self, timeout: float) -> list[Message]:
        """The next live events (those after ``last_id``); [] after ``timeout`` s of silence.

        Raises ``CutOff`` once the reader has fallen too far behind.
        """
        assert self._sub is not None, "read history() first"
        fresh = [m for m in await self._sub.take(timeout) if m.id > self.last_id]
        if fresh:
            self.last_id = fresh[-1].id
        return fresh

    def close(self) -> None:
        if self._sub is not None:
            self._hub._unsubscribe(self._sub)
            self._sub = None

    async def _pages(self) -> AsyncIterator[list[Message]]:
        while True:
            page = await self._hub.read(self._filter, self.last_id)
            if page:
                self.last_id = page[-1].id
                yield page
            if len(page) < PAGE:
                return


class Hub:
    """Follows the events table for this process and fans new rows out to live readers."""

    def __init__(self, settings: Settings, bus: Bus | None = None) -> None:
        self._settings = settings
        self.bus = bus or bus_from_settings(settings)
        self._db: Database | None = None
        self._readers: dict[str | None, set[_Subscription]] = {}
        self._count = 0
        self._cursor = 0
        self._target = 0
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def readers(self) -> int:
        """How many readers are registered now."""
        return self._count

    @asynccontextmanager
    async def run(self, runtime: Runtime) -> AsyncIterator[None]:
        """Follow the table while the server runs (an app ``Background`` part)."""
        self._db = runtime.db
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._cursor = await to_thread.run_sync(self._last_id)
        self.bus.subscribe(self._poke_threadsafe)
        self.bus.start()
        repository.on_commit(self.bus.publish)
        BUS_LAST_ID.set_function(lambda: self.bus.last_received)
        pump = asyncio.create_task(self._pump(), name="mf-event-hub")
        try:
            yield
        finally:
            repository.off_commit(self.bus.publish)
            self.bus.unsubscribe(self._poke_threadsafe)
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            await to_thread.run_sync(self.bus.close)
            for subs in list(self._readers.values()):
                for sub in list(subs):
                    sub.end()
                    self._unsubscribe(sub)

    @asynccontextmanager
    async def follow(self, flt: Filter, *, after_id: int | None) -> AsyncIterator[Feed]:
        """A ``Feed`` for one reader, unregistered when the block exits.

        Without ``after_id`` it is registered on entry: nothing committed afterwards is missed.
        """
        feed = Feed(self, flt, after_id)
        feed._live_now()
        try:
            yield feed
        finally:
            feed.close()

    async def read(self, flt: Filter, after_id: int) -> list[Message]:
        """One page of stored events matching ``flt`` after ``after_id`` (in a worker thread)."""
        return await to_thread.run_sync(self._read, flt.query(), after_id)

    # --- internals --------------------------------------------------------------------------
    def _subscribe(self, flt: Filter) -> _Subscription:
        sub = _Subscription(flt, self._settings.sse_queue_size, self._cursor)
        self._readers.setdefault(flt.owner_id, set()).add(sub)
        self._count += 1
        SUBSCRIBERS.inc()
        return sub

    def _unsubscribe(self, sub: _Subscription) -> None:
        subs = self._readers.get(sub.filter.owner_id)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if not subs:
            del self._readers[sub.filter.owner_id]
        self._count -= 1
        SUBSCRIBERS.dec()

    def _poke_threadsafe(self, last_id: int) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._poke, last_id)

    def _poke(self, last_id: int) -> None:
        if last_id > self._target:
            self._target = last_id
            if last_id > self._cursor:
                self._wake.set()

    async def _pump(self) -> None:
        while True:
            polled = False
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()
            except TimeoutError:
                polled = True
            self._wake.clear()
            try:
                await self._catch_up(polled)
            except Exception as exc:  # the database is away: try again at the next poll
                log.warning("event_hub_read_failed", error=str(exc))
                await asyncio.sleep(POLL_SECONDS)

    async def _catch_up(self, polled: bool) -> None:
        if not self._readers:
            # Nobody listens: move the cursor without reading rows, so a new reader starts at "now".
            newest = await to_thread.run_sync(self._last_id) if polled else self._target
            if not self._readers:
                self._cursor = max(self._cursor, newest)
                return
        # Never more rows between two reads than a reader buffers: one that keeps up drains meanwhile.
        limit = min(PAGE, self._settings.sse_queue_size)
        while True:
            page = await to_thread.run_sync(self._read, {}, self._cursor, limit)
            for message in page:
                self._fan_out(message)
            if page:
                self._cursor = page[-1].id
            if len(page) < limit:
                return

    def _fan_out(self, message: Message) -> None:
        # The owner's readers, then those following every owner (admins: key None).
        subs = [*self._readers.get(message.owner_id, set()), *self._readers.get(None, set())]
        for sub in subs:
            if sub.filter.matches(message) and not sub.offer(message):
                CUT_OFF.inc()
                log.info("event_reader_cut_off", owner=message.owner_id, limit=self._settings.sse_queue_size)
                self._unsubscribe(sub)

    def _read(self, query: dict[str, Any], after_id: int, limit: int = PAGE) -> list[Message]:
        assert self._db is not None, "the hub is not running"
        with self._db.session(read_only=True) as session:
            rows = repository.since(session, after_id=after_id, limit=limit, **query)
            return [Message.of(e) for e in rows]

    def _last_id(self) -> int:
        assert self._db is not None, "the hub is not running"
        with self._db.session(read_only=True) as session:
            return repository.last_id(session)
