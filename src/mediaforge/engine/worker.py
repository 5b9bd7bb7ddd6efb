"""The worker: one claiming loop that hands leased jobs to slots, each with its own work process.

Threads: the main loop claims (never more jobs than free slots, so no job waits parked on a busy
worker), one slot thread per work process supervises a job (progress, cancel, timeout, lease loss),
a monitor renews leases and picks up cancel requests, and on PostgreSQL a listener turns NOTIFY
into an immediate wake-up. SIGTERM drains: stop claiming, finish what runs, then exit.

A plain success (no output files, no children of its own, no workflow step) is not recorded by its
slot: the slot hands it to the main loop and is free at once, and the main loop records every such
result (with its ``on_success`` hook and, for a child, its parent's check) and leases the next jobs
for the free slots in one transaction.
"""

from __future__ import annotations

import os
import queue
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.orm import Session

from mediaforge.assets import service as assets
from mediaforge.assets.repository import AssetRepository
from mediaforge.clock import new_id, utcnow
from mediaforge.engine import signals
from mediaforge.engine.listener import PgListener
from mediaforge.engine.pool import WorkProcess
from mediaforge.engine.sweeper import Sweeper
from mediaforge.errors import MediaforgeError
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.jobs.repository import JobRepository
from mediaforge.processors.base import ChildSpec, RetryPolicy
from mediaforge.processors.registry import default_registry
from mediaforge.runtime import Runtime
from mediaforge.workers import repository as workers
from mediaforge.workers.models import Worker as WorkerRow

__all__ = ["Worker"]

log = structlog.get_logger(__name__)
_PROGRESS_WRITE_EVERY = 0.5
_LINGER = 0.002


@dataclass
class Claim:
    """A job this worker holds the lease of, as the slot sees it."""

    id: str
    type: str
    owner_id: str
    attempt: int
    params: dict[str, Any]
    inputs: list[str]
    timeout: float | None
    parent_id: str | None = None
    simple: bool = False
    """Not a workflow step: its success may be recorded in the main loop's batch (a child's parent
    check and the processor's ``on_success`` hook run there, in that transaction)."""
    cancel: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)


@dataclass
class Outcome:
    kind: str  # done | error | cancelled | lost
    payload: dict[str, Any] = field(default_factory=dict)
    error_type: str = ""
    message: str = ""
    delay: float | None = None

    @property
    def plain_success(self) -> bool:
        """Done, with neither output files to store nor children to create."""
        return self.kind == "done" and not self.payload["files"] and not self.payload["children"]


class Worker:
    """Claims jobs for the processors it can run and executes them in child processes."""

    def __init__(self, runtime: Runtime, *, concurrency: int | None = None, name: str | None = None) -> None:
        self.rt = runtime
        s = runtime.settings
        self.id = name or f"{socket.gethostname()}-{os.getpid()}-{new_id()[-6:]}"
        self.concurrency = concurrency or s.concurrency
        self.queues = s.queues
        self.types = [p.name for p in runtime.registry.runnable(s.capabilities)]
        self._inbox: queue.Queue[Claim | None] = queue.Queue()
        self._succeeded: list[tuple[Claim, dict[str, Any]]] = []
        """Plain successes waiting for the main loop to record them."""
        self._free = self.concurrency
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        """Held by the main loop's transaction and the lease renewal: both lock several running rows
        of this worker, and taking turns keeps them from deadlocking on each other."""
        self._active: dict[str, Claim] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sweeper = Sweeper(runtime)
        self._listener: PgListener | None = None
        self.processed = 0
        self.failed = 0

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Register, then start slots, the monitor, the listener and the claim loop (threads)."""
        with self.rt.db.session() as session:
            workers.register(
                session,
                WorkerRow(
                    id=self.id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    status="active",
                    queues=self.queues,
                    capabilities=sorted(self.rt.settings.capabilities),
                    processors=self.types,
                    concurrency=self.concurrency,
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                ),
            )
        if self.rt.db.dialect == "postgresql":
            self._listener = PgListener(
                self.rt.settings.database_url, "mediaforge_jobs", lambda _: signals.wake()
            )
            self._listener.start()
        for index in range(self.concurrency):
            self._spawn(self._slot_loop, f"slot-{index}")
        self._spawn(self._monitor_loop, "monitor")
        self._spawn(self._claim_loop, "claim")
        log.info("worker_started", worker_id=self.id, concurrency=self.concurrency, types=len(self.types))

    def stop(self, *, drain_timeout: float = 30.0) -> None:
        """Stop claiming, let running jobs finish (up to ``drain_timeout``), then shut down."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        signals.wake()
        with self.rt.db.session() as session:
            workers.stop(session, self.id, "draining")
        deadline = time.monotonic() + drain_timeout
        while self._active and time.monotonic() < deadline:
            time.sleep(0.05)
        for _ in range(self.concurrency):
            self._inbox.put(None)
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()) + 5)
        if self._listener is not None:
            self._listener.stop()
        with self.rt.db.session() as session:
            workers.stop(session, self.id)
        log.info("worker_stopped", worker_id=self.id, processed=self.processed)

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=f"mf-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- claiming ------------------------------------------------------------------------
    def _claim_loop(self) -> None:
        poll = self.rt.settings.worker_poll_seconds if self.rt.db.dialect == "sqlite" else 1.0
        woken = True
        while not self._stopping.is_set() or self._active:  # draining: record what still ends
            try:
                claimed = self._cycle(woken)
                self._sweeper.maybe_run()
            except Exception:
                log.exception("claim_failed", worker_id=self.id)
                claimed = 0
                time.sleep(1.0)
            woken = signals.wait(poll) if not claimed or not self._free else True

    def _linger(self) -> None:
        """With a result to record while other slots still run, give them ``_LINGER`` s to end too.

        Jobs leased together often end together: one transaction then records them all, rather than
        one each (a short job's recording waits at most that long; nothing waits to start).
        """
        deadline = time.monotonic() + _LINGER
        while self._succeeded and len(self._active) > len(self._succeeded) and time.monotonic() < deadline:
            signals.wait(max(0.0, deadline - time.monotonic()))

    def _may_have_work(self, woken: bool) -> bool:
        """After a wake-up, yes; after a quiet poll on SQLite, ask a reader first (no write lock)."""
        if woken or self.rt.db.dialect != "sqlite":
            return True
        with self.rt.db.session(read_only=True) as session:
            return JobRepository(session).has_ready(self.queues, self.types, utcnow())

    def _cycle(self, woken: bool) -> int:
        """Record the plain successes and lease jobs for the free slots, in one transaction."""
        self._linger()
        with self._lock:
            done, self._succeeded = self._succeeded, []
        want = self._free if self.types and not self._stopping.is_set() else 0
        if want and not done and not self._may_have_work(woken):
            want = 0
        if not done and not want:
            return 0
        try:
            with self._writing, self.rt.db.session() as session:
                recorded = set(
                    jobs.succeed_leased_many(
                        session, self.id, [(c.id, c.attempt, r) for c, r in done], self.rt.settings
                    )
                )
                rows = (
                    JobRepository(session).claim(
                        worker_id=self.id,
                        queues=self.queues,
                        types=self.types,
                        limit=want,
                        lease_seconds=self.rt.settings.lease_seconds,
                        now=utcnow(),
                        lease_only=not recorded,
                    )
                    if want
                    else []
                )
                for job in rows:
                    jobs.emit(session, job, "job.updated")
        except BaseException as exc:
            # Jobs with nothing beyond their own row to write are recorded next time (their leases
            # stay renewed meanwhile). One with a hook or a parent may be what failed the batch: it
            # is recorded on its own, as its slot would have, so it cannot hold up the others.
            alone = [(c, r) for c, r in done if isinstance(exc, Exception) and not self._row_only(c)]
            apart = {claim.id for claim, _ in alone}
            with self._lock:
                self._succeeded[:0] = [(c, r) for c, r in done if c.id not in apart]
            for claim, result in alone:
                self._record_alone(claim, result)
            raise
        for claim, _ in done:
            if claim.id in recorded:
                self.processed += 1
            else:
                log.warning("lease_lost", job_id=claim.id, attempt=claim.attempt)
        with self._lock:
            for claim, _ in done:
                self._active.pop(claim.id, None)
        for job in rows:
            claim = Claim(
                job.id,
                job.type,
                job.owner_id,
                job.attempt,
                job.params,
                job.inputs,
                job.timeout_seconds,
                parent_id=job.parent_id,
                simple=job.workflow_id is None,
            )
            with self._lock:
                self._free -= 1
                self._active[job.id] = claim
            self._inbox.put(claim)
        return len(rows)

    def _row_only(self, claim: Claim) -> bool:
        """Its success writes nothing beyond its own row and event (no parent, no hook)."""
        hooked = any(  # the service runs the default registry's hook
            claim.type in r and r.get(claim.type).on_success is not None
            for r in (self.rt.registry, default_registry())
        )
        return claim.parent_id is None and not hooked

    def _record_alone(self, claim: Claim, result: dict[str, Any]) -> None:
        """Record one handed-over success in its own transaction (after its batch failed)."""
        tmp = self.rt.settings.data_dir / "tmp" / f"{claim.id}-{claim.attempt}"
        try:
            self._finish(claim, Outcome("done", payload={"result": result, "files": [], "children": []}), tmp)
        except Exception:  # as on the slot path: the lease runs out and the sweeper retries the job
            log.exception("record_failed", job_id=claim.id)
        with self._lock:
            self._active.pop(claim.id, None)

    # --- supervising a job ---------------------------------------------------------------
    def _slot_loop(self) -> None:
        process = WorkProcess(self.rt.settings)
        try:
            while (claim := self._inbox.get()) is not None:
                handed_over = False
                try:
                    handed_over = self._execute(process, claim)
                except Exception:
                    log.exception("slot_failed", job_id=claim.id)
                finally:
                    with self._lock:
                        if not handed_over:
                            self._active.pop(claim.id, None)
                        self._free += 1
                    signals.wake()
        finally:
            process.close()

    def _execute(self, process: WorkProcess, claim: Claim) -> bool:
        """Run one job; True when its plain success was handed to the main loop to record."""
        structlog.contextvars.bind_contextvars(job_id=claim.id, attempt=claim.attempt)
        tmp = self.rt.settings.data_dir / "tmp" / f"{claim.id}-{claim.attempt}"  # made on first use
        try:
            try:
                inputs = self._materialize(claim, tmp)
            except MediaforgeError as exc:
                outcome = Outcome("error", error_type=exc.code, message=exc.message)
            else:
                task = {
                    "job_id": claim.id,
                    "attempt": claim.attempt,
                    "tmp_dir": str(tmp),
                    "type": claim.type,
                    "params": claim.params,
                    "inputs": inputs,
                }
                outcome = self._supervise(process, claim, task)
            if claim.simple and outcome.plain_success:
                with self._lock:
                    self._succeeded.append((claim, outcome.payload["result"]))
                return True
            self._finish(claim, outcome, tmp)
            return False
        finally:
            if os.path.lexists(tmp):  # most jobs never make it: skip rmtree's own cost
                shutil.rmtree(tmp, ignore_errors=True)
            structlog.contextvars.unbind_contextvars("job_id", "attempt")

    def _materialize(self, claim: Claim, tmp: Path) -> list[dict[str, Any]]:
        if not claim.inputs:
            return []
        tmp.mkdir(parents=True, exist_ok=True)
        with self.rt.db.session(read_only=True) as session:
            rows = AssetRepository(session).many(claim.inputs, owner_id=claim.owner_id)
        if len(rows) != len(claim.inputs):
            raise MediaforgeError("an input asset no longer exists", code="input_missing")
        return [
            {
                "asset_id": a.id,
                "path": str(assets.copy_to(self.rt.storage, a, tmp / f"in-{a.id}")),
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
            }
            for a in rows
        ]

    def _supervise(self, process: WorkProcess, claim: Claim, task: dict[str, Any]) -> Outcome:
        s = self.rt.settings
        conn = process.conn
        conn.send(("run", task))
        started = time.monotonic()
        cancel_sent: float | None = None
        last_write = 0.0
        while True:
            try:
                ready = conn.poll(0.05)
                message = conn.recv() if ready else None
            except (EOFError, OSError):
                process.kill()
                return Outcome("error", error_type="worker_crashed", message="the work process died")
            if message is not None:
                kind = message[0]
                if kind == "done":
                    return Outcome("done", payload=message[1])
                if kind == "error":
                    return Outcome("error", error_type=message[1], message=message[2], delay=message[3])
                if kind == "cancelled":
                    return Outcome("cancelled")
                if kind == "progress" and time.monotonic() - last_write >= _PROGRESS_WRITE_EVERY:
                    last_write = time.monotonic()
                    self._progress(claim, message[1], message[2])
                continue
            now = time.monotonic()
            if claim.lost.is_set():
                process.kill()
                return Outcome("lost")
            if claim.cancel.is_set() and cancel_sent is None:
                conn.send(("cancel",))
                cancel_sent = now
            if cancel_sent is not None and now - cancel_sent > s.cancel_grace_seconds:
                process.kill()
                return Outcome("cancelled")
            if claim.timeout and now - started > claim.timeout:
                process.kill()
                return Outcome("error", error_type="timeout", message=f"exceeded {claim.timeout:g} s")

    def _progress(self, claim: Claim, percent: float, message: str | None) -> None:
        with self.rt.db.session() as session:
            job = JobRepository(session).update_leased(
                claim.id, self.id, claim.attempt, {"progress": percent, "progress_message": message}
            )
            if job is not None:
                jobs.emit(session, job, "job.progress")

    # --- recording the outcome -----------------------------------------------------------
    def _finish(self, claim: Claim, outcome: Outcome, tmp: Path) -> None:
        if outcome.kind == "lost":
            log.warning("lease_lost", job_id=claim.id, attempt=claim.attempt)
            return
        stored: list[str] = []
        try:
            self._record(claim, outcome, tmp, stored)
        except BaseException as exc:
            for key in stored:
                self.rt.storage.delete(key)
            if not isinstance(exc, _LeaseLost):
                raise
            log.warning("lease_lost", job_id=claim.id, attempt=claim.attempt)

    def _record(self, claim: Claim, outcome: Outcome, tmp: Path, stored: list[str]) -> None:
        s = self.rt.settings
        with self.rt.db.session() as session:
            if outcome.kind == "done" and not outcome.payload["children"]:
                try:
                    outputs = self._store_outputs(session, claim, outcome.payload["files"], tmp, stored)
                except MediaforgeError as exc:
                    outcome = Outcome("error", error_type=exc.code, message=exc.message)
                else:
                    if not jobs.succeed_leased(
                        session,
                        claim.id,
                        self.id,
                        claim.attempt,
                        s,
                        result=outcome.payload["result"],
                        outputs=outputs,
                    ):
                        raise _LeaseLost()
                    self.processed += 1
                    return
            job = JobRepository(session).get(claim.id, for_update=True)
            if job is None or not self._holds(job, claim):
                raise _LeaseLost()
            if outcome.kind == "done":
                children = [ChildSpec(**c) for c in outcome.payload["children"]]
                jobs.succeed(
                    session,
                    job,
                    s,
                    result=outcome.payload["result"],
                    outputs=[],
                    children=children,
                    registry=self.rt.registry,
                )
                self.processed += 1
                return
            self.failed += outcome.kind == "error"
            policy = self._policy(job.type)
            retryable = (
                outcome.kind == "error" and outcome.error_type not in _NON_RETRYABLE | policy.non_retryable
            )
            delay = (
                outcome.delay
                if outcome.delay is not None
                else policy.delay(job.attempt, base=s.retry_backoff_seconds, cap=s.retry_backoff_max_seconds)
            )
            jobs.fail_attempt(
                session,
                job,
                s,
                error_type=outcome.error_type or "cancelled",
                message=outcome.message,
                retryable=retryable,
                delay=delay,
                cancelled=outcome.kind == "cancelled",
            )

    def _holds(self, job: Job, claim: Claim) -> bool:
        return job.status == "running" and job.lease_owner == self.id and job.attempt == claim.attempt

    def _store_outputs(
        self, session: Session, claim: Claim, files: list[dict[str, Any]], tmp: Path, stored: list[str]
    ) -> list[str]:
        root = tmp.resolve()
        ids = []
        for item in files:
            path = (tmp / item["path"]).resolve()
            if not path.is_relative_to(root) or not path.is_file():
                raise MediaforgeError(
                    f"output {item['path']} is not a file under the job's temp dir", code="invalid_output"
                )
            asset = assets.ingest_file(
                session,
                self.rt.storage,
                self.rt.settings,
                owner_id=claim.owner_id,
                path=path,
                filename=item["filename"] or path.name,
                source="output",
                job_id=claim.id,
                ttl_seconds=self.rt.settings.result_ttl_seconds,
            )
            stored.append(asset.storage_key)
            ids.append(asset.id)
        return ids

    def _policy(self, job_type: str) -> RetryPolicy:
        return self.rt.registry.get(job_type).retry if job_type in self.rt.registry else RetryPolicy()

    # --- leases and cancel requests ------------------------------------------------------
    def _monitor_loop(self) -> None:
        s = self.rt.settings
        tick = min(0.5, s.lease_seconds / 4)
        last_row_beat = 0.0
        while not self._stopping.wait(tick) or self._active:
            try:
                if self._active:
                    self._renew_leases()
                if time.monotonic() - last_row_beat > s.lease_seconds / 3:
                    last_row_beat = time.monotonic()
                    with self.rt.db.session() as session:
                        workers.heartbeat(
                            session,
                            self.id,
                            running=len(self._active),
                            processed=self.processed,
                            failed=self.failed,
                        )
            except Exception:
                log.exception("heartbeat_failed", worker_id=self.id)
            if self._stopping.is_set() and not self._active:
                return

    def _renew_leases(self) -> None:
        with self._lock:
            held = list(self._active.values())
        with self._writing, self.rt.db.session() as session:
            renewed = JobRepository(session).heartbeat(
                self.id,
                [(claim.id, claim.attempt) for claim in held],
                lease_seconds=self.rt.settings.lease_seconds,
                now=utcnow(),
            )
        for claim in held:
            if claim.id not in renewed:
                claim.lost.set()
            elif renewed[claim.id]:
                claim.cancel.set()


class _LeaseLost(Exception):
    """The job's lease moved on (expired and re-leased) before this attempt could record its end."""


_NON_RETRYABLE = frozenset(
    {"timeout", "invalid_output", "input_missing", "permanent_failure", "mapping_failed", "out_of_memory"}
)
