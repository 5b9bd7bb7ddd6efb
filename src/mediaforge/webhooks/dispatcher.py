"""The dispatcher: fans outbox events out to deliveries, then sends due ones on a thread pool.

One loop thread fans out (the cursor lets one process at a time do it) and claims due deliveries
with a lease; a pool of ``webhook_concurrency`` threads sends them and records each attempt. A
commit that wrote events wakes the loop in-process, ``NOTIFY mediaforge_events`` does so across
processes on PostgreSQL, and a short poll covers retries coming due. A dispatcher killed mid-send
loses nothing: its lease runs out and another sends the delivery again, under the same webhook-id.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import structlog

from mediaforge.clock import new_id, utcnow
from mediaforge.engine.listener import PgListener
from mediaforge.events import repository as events
from mediaforge.runtime import Runtime
from mediaforge.webhooks import claims, fanout, policy
from mediaforge.webhooks.repository import WebhookRepository
from mediaforge.webhooks.transport import send

__all__ = ["Dispatcher", "webhook_dispatcher"]

log = structlog.get_logger(__name__)

POLL_SECONDS = 0.2
MIN_PASS_SECONDS = 0.1
"""Wake-ups closer together than this share one pass: a burst of commits costs one round of reads."""
CURSOR_LAG_SECONDS = 2.0
"""Events that create no delivery move the cursor at most this often (a write lock saved on SQLite)."""

_live: weakref.WeakSet[Dispatcher] = weakref.WeakSet()
_live_lock = threading.Lock()


def _wake_all(_last_event_id: int) -> None:
    with _live_lock:
        dispatchers = list(_live)
    for dispatcher in dispatchers:
        dispatcher.wake()


events.on_commit(_wake_all)


class Dispatcher:
    """Delivers webhooks from this process until stopped; any number may run against one database."""

    def __init__(self, runtime: Runtime, *, name: str | None = None, concurrency: int | None = None) -> None:
        self.rt = runtime
        self.id = name or f"{socket.gethostname()}-{os.getpid()}-wh{new_id()[-6:]}"
        self.concurrency = concurrency or runtime.settings.webhook_concurrency
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._inflight = 0
        self._advanced = float("-inf")
        self._checked = 0
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="mf-webhook")
        self._thread = threading.Thread(target=self._loop, name="mf-webhooks", daemon=True)
        self._listener: PgListener | None = None
        policy.parse_schedule(runtime.settings.webhook_schedule)  # a bad schedule fails at startup

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        with _live_lock:
            _live.add(self)
        if self.rt.db.dialect == "postgresql":
            self._listener = PgListener(self.rt.settings.database_url, events.CHANNEL, lambda _: self.wake())
            self._listener.start()
        self._thread.start()
        log.info("webhooks_started", dispatcher_id=self.id, concurrency=self.concurrency)

    def stop(self, *, grace: float = 5.0) -> None:
        """Stop claiming; sends still running get ``grace`` seconds, then their leases take over."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        deadline = time.monotonic() + grace
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.02)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._listener is not None:
            self._listener.stop()
        with _live_lock:
            _live.discard(self)
        log.info("webhooks_stopped", dispatcher_id=self.id)

    def wake(self) -> None:
        """Look for new events and due deliveries now rather than at the next poll."""
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                more = self._fan_out()
                self._claim()
            except Exception:
                log.exception("webhooks_loop_failed", dispatcher_id=self.id)
                more = False
                self._stopping.wait(1.0)
            if not more:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                self._stopping.wait(started + MIN_PASS_SECONDS - time.monotonic())

    def _fan_out(self) -> bool:
        """Fan the next batch out; True when a full batch was read (more may be waiting).

        New events are first read without payloads; those needing no delivery are remembered as
        checked and skipped by the cursor later, moved at most every ``CURSOR_LAG_SECONDS``.
        """
        s = self.rt.settings
        with self.rt.db.session(read_only=True) as session:
            repo = WebhookRepository(session)
            position = repo.cursor(fanout.CURSOR)
            heads = repo.event_heads(after_id=max(position, self._checked), limit=fanout.BATCH)
            wanted = bool(heads) and bool(fanout.targets(session, heads, utcnow()))
        full = len(heads) == fanout.BATCH
        if not wanted:
            if heads:
                self._checked = heads[-1].id
            behind = self._checked > position
            if not behind or (not full and time.monotonic() - self._advanced < CURSOR_LAG_SECONDS):
                return full
        with self.rt.db.session() as session:
            read, created = fanout.fan_out(session, s, utcnow(), checked=self._checked)
        self._advanced = time.monotonic()
        if created:
            log.debug("webhooks_fanned_out", events=read, deliveries=created)
        return full or read == fanout.BATCH

    def _claim(self) -> None:
        free = self.concurrency - self._inflight
        if free <= 0:
            return
        with self.rt.db.session(read_only=True) as session:
            if not WebhookRepository(session).has_due(utcnow()):
                return
        with self.rt.db.session() as session:
            leased = claims.claim(session, self.rt.settings, owner=self.id, limit=free, now=utcnow())
        for claimed in leased:
            with self._lock:
                self._inflight += 1
            self._pool.submit(self._deliver, claimed)

    def _deliver(self, claimed: claims.Claim) -> None:
        s = self.rt.settings
        try:
            sent = send(claimed.message, timeout=s.webhook_timeout_seconds, allow_hosts=s.allow_hosts)
            with self.rt.db.session() as session:
                status = claims.record(session, s, claimed, sent, owner=self.id, now=utcnow())
            log.info(
                "webhook_attempt",
                delivery_id=claimed.id,
                attempt=claimed.attempt,
                status_code=sent.status_code,
                error=sent.error,
                latency_ms=sent.latency_ms,
                outcome=status.value if status else "lease_lost",
            )
        except Exception:
            log.exception("webhook_delivery_failed", delivery_id=claimed.id)
        finally:
            with self._lock:
                self._inflight -= 1
            self.wake()


@asynccontextmanager
async def webhook_dispatcher(runtime: Runtime) -> AsyncIterator[None]:
    """The app's background part: a dispatcher for the server's lifetime."""
    dispatcher = Dispatcher(runtime)
    dispatcher.start()
    try:
        yield
    finally:
        dispatcher.stop()
