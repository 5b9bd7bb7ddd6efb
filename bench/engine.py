"""Engine benchmark: mediaforge on SQLite and PostgreSQL against Celery + Redis, in one run.

    .venv/bin/python bench/engine.py [--jobs 5000] [--backends sqlite,postgres,celery] [--rounds 1]

Each measurement runs on a fresh database (or a fresh Celery queue), backends interleaved phase by
phase so that a neighbour's load hits them alike:

- enqueue latency: one no-op per transaction (mediaforge) or per ``apply_async`` (Celery),
  sequential, no worker running;
- dispatch latency: one idle standalone worker; enqueue one job, wait until it finished, repeat.
  mediaforge: ``started_at - created_at`` of the row; Celery: the task's start time minus the send
  time;
- no-op throughput: N jobs wait in a held queue while the workers start and warm up, then become
  claimable at once (one UPDATE; Celery: one Redis RENAME); jobs/s = N / (last finished - first
  started). CPU per job counts the worker processes with their children, and the database backends
  (PostgreSQL) or the Redis server.

The markdown table goes to stdout and to ``bench/results/engine-<date>.md``; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ROOT,
    CpuMeter,
    Process,
    host_load,
    log,
    markdown_table,
    owned,
    percentile,
    revision,
    temporary_postgres_database,
    wait_until,
    write_result,
)

OWNER = "bench"
HELD_QUEUE = "bench-held"
DISPATCH_GAP = 0.02  # let the worker go idle again between dispatch samples
WARM_UP_PER_SLOT = 3
TERMINAL = ("succeeded", "failed", "cancelled", "expired")
NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "celery": "Celery + Redis"}
CELERY_SETUP = "1 x `celery worker --concurrency 2 -P prefork`"


@dataclass(frozen=True)
class Setup:
    """How mediaforge's workers run for the throughput measurement."""

    name: str
    processes: int
    concurrency: int
    in_process: bool

    @classmethod
    def parse(cls, name: str) -> Setup:
        """``proc2x2``: two ``mediaforge worker -c 2`` processes; ``inproc4``: Worker(concurrency=4) here."""
        if name.startswith("inproc"):
            return cls(name, 1, int(name.removeprefix("inproc")), True)
        processes, concurrency = name.removeprefix("proc").split("x")
        return cls(name, int(processes), int(concurrency), False)

    @property
    def label(self) -> str:
        if self.in_process:
            return f"in-process Worker(concurrency={self.concurrency})"
        return f"{self.processes} x `mediaforge worker --concurrency {self.concurrency}`"


@dataclass(frozen=True)
class Run:
    """One throughput run: jobs/s, and CPU seconds per job in the workers and in the server."""

    rate: float
    worker_cpu: float
    server_cpu: float | None


@dataclass
class Result:
    """What one backend measured; seconds throughout."""

    enqueue: list[float] = field(default_factory=list)
    dispatch: list[float] = field(default_factory=list)
    dispatch_embedded: list[float] = field(default_factory=list)
    run: list[float] = field(default_factory=list)
    throughput: dict[str, list[Run]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def median(self, setup: str) -> Run:
        runs = sorted(self.throughput[setup], key=lambda r: r.rate)
        return runs[(len(runs) - 1) // 2]

    def best(self) -> tuple[str, Run] | None:
        """The setup with the highest median rate."""
        ranked = sorted(
            ((self.median(s), s) for s in self.throughput if self.throughput[s]),
            key=lambda pair: pair[0].rate,
        )
        return (ranked[-1][1], ranked[-1][0]) if ranked else None


# --- mediaforge ----------------------------------------------------------------------------
class Mediaforge:
    """mediaforge's engine on one database dialect."""

    def __init__(self, dialect: str, args: argparse.Namespace, workdir: Path) -> None:
        self.dialect = dialect
        self.args = args
        self.workdir = workdir
        self._runs = 0

    @contextmanager
    def _runtime(self, phase: str) -> Iterator[Any]:
        from mediaforge.config import Settings
        from mediaforge.db.migrate import migrate
        from mediaforge.runtime import Runtime

        self._runs += 1
        data_dir = self.workdir / f"{self.dialect}-{self._runs}-{phase}"
        with self._database(data_dir) as url:
            migrate(url)
            blobs = (data_dir / "blobs").as_uri()
            settings = Settings(data_dir=data_dir, database_url=url, storage_url=blobs, log_level="WARNING")
            rt = Runtime.from_settings(settings)
            try:
                yield rt
            finally:
                rt.close()

    @contextmanager
    def _database(self, data_dir: Path) -> Iterator[str]:
        if self.dialect == "sqlite":
            data_dir.mkdir(parents=True)
            yield f"sqlite:///{data_dir / 'mediaforge.db'}"
            return
        with temporary_postgres_database(self.args.pg_admin_url, "mf_bench") as url:
            yield url.replace("postgresql://", "postgresql+psycopg://", 1)

    # --- the measurements --------------------------------------------------------------------
    def enqueue(self, result: Result) -> None:
        from mediaforge.jobs.schemas import JobCreate

        spec = JobCreate(type="debug.noop")
        with self._runtime("enqueue") as rt:
            for _ in range(20):
                _create(rt, spec)
            for _ in range(self.args.enqueue):
                started = time.perf_counter()
                _create(rt, spec)
                result.enqueue.append(time.perf_counter() - started)

    def dispatch(self, result: Result, *, embedded: bool) -> None:
        """``embedded``: the worker lives in this process, as under ``mediaforge serve``."""
        with ExitStack() as stack:
            rt = stack.enter_context(self._runtime("dispatch-embedded" if embedded else "dispatch"))
            self._start(stack, rt, Setup.parse("inproc2" if embedded else "proc1x2"))
            for created, started, finished in self._one_at_a_time(rt):
                (result.dispatch_embedded if embedded else result.dispatch).append(started - created)
                if not embedded:
                    result.run.append(finished - started)

    def _one_at_a_time(self, rt: Any) -> Iterator[tuple[float, float, float]]:
        from mediaforge.jobs.schemas import JobCreate

        spec = JobCreate(type="debug.noop")
        for _ in range(self.args.samples):
            job_id = _create(rt, spec)
            job = wait_until(partial(_finished, rt, job_id), timeout=10, interval=0.005, what=f"job {job_id}")
            if job.status != "succeeded":
                raise RuntimeError(f"job {job_id} ended {job.status}: {job.error}")
            yield job.created_at.timestamp(), job.started_at.timestamp(), job.finished_at.timestamp()
            time.sleep(DISPATCH_GAP)

    def throughput(self, result: Result, setup: Setup) -> None:
        from sqlalchemy import select, update

        from mediaforge.jobs import service as jobs
        from mediaforge.jobs.models import Job
        from mediaforge.jobs.schemas import JobCreate

        n, batch = self.args.jobs, self.args.batch
        with ExitStack() as stack:
            rt = stack.enter_context(self._runtime(f"throughput-{setup.name}"))
            held = JobCreate(type="debug.noop", queue=HELD_QUEUE)
            started = time.perf_counter()
            for offset in range(0, n, batch):
                with rt.db.session() as session:
                    for _ in range(min(batch, n - offset)):
                        jobs.create(session, OWNER, held, registry=rt.registry, settings=rt.settings)
            log(f"  {n} jobs enqueued in {time.perf_counter() - started:.1f} s ({batch} per transaction)")
            processes, warm = self._start(stack, rt, setup)
            roots = [p.popen.pid for p in processes] or [os.getpid()]
            cpu = CpuMeter(roots, lambda: _pg_backends(rt) if self.dialect == "postgres" else [])
            with rt.db.session() as session:  # the whole batch becomes claimable at once
                session.execute(
                    update(Job).where(Job.queue == HELD_QUEUE, Job.status == "queued").values(queue="default")
                )
                jobs.announce(session, "default")
            wait_until(
                lambda: _alive(processes) and _drained(rt, n + len(warm)),
                timeout=max(120.0, n / 20),
                interval=0.25,
                what=f"{n} no-op jobs to finish",
            )
            worker_cpu, server_cpu = cpu.stop()
            with rt.db.session(read_only=True) as session:
                query = select(Job.id, Job.status, Job.started_at, Job.finished_at)
                rows = [r for r in session.execute(query) if r.id not in warm]
        failed = sum(r.status != "succeeded" for r in rows)
        if failed:
            result.errors.append(f"{self.dialect} {setup.name}: {failed} of {n} jobs did not succeed")
        window = (max(r.finished_at for r in rows) - min(r.started_at for r in rows)).total_seconds()
        run = Run(n / window, worker_cpu / n, server_cpu / n if self.dialect == "postgres" else None)
        result.throughput.setdefault(setup.name, []).append(run)
        log(
            f"  {run.rate:.0f} jobs/s, CPU per job {run.worker_cpu * 1e3:.2f} ms worker"
            + (f" + {run.server_cpu * 1e3:.2f} ms PostgreSQL" if run.server_cpu is not None else "")
        )

    # --- workers -----------------------------------------------------------------------------
    def _start(self, stack: ExitStack, rt: Any, setup: Setup) -> tuple[list[Process], set[str]]:
        """Start ``setup``'s workers, wait until they registered, warm every slot's work process.

        Returns the worker subprocesses (none when in-process) and the ids of the warm-up jobs.
        """
        processes: list[Process] = []
        if setup.in_process:
            from mediaforge.engine.worker import Worker

            name = f"bench-{setup.name}-{os.urandom(3).hex()}"
            worker = Worker(rt, concurrency=setup.concurrency, name=name)
            worker.start()
            stack.callback(worker.stop, drain_timeout=10)
            names = [worker.id]
        else:
            names = [f"bench-{setup.name}-{i}" for i in range(setup.processes)]
            for name in names:
                argv = _mediaforge_argv(name, setup.concurrency)
                processes.append(
                    stack.enter_context(
                        owned(Process(name, argv, env=_worker_env(rt.settings), log_dir=self.workdir))
                    )
                )
        wait_until(
            lambda: _alive(processes) and _registered(rt, names),
            timeout=60,
            what=f"{setup.label} to register",
        )
        return processes, self._warm_up(rt, setup.processes * setup.concurrency, processes)

    def _warm_up(self, rt: Any, slots: int, processes: list[Process]) -> set[str]:
        """Work processes start on their slot's first job: run a few so no measurement pays for that."""
        from mediaforge.jobs import service as jobs
        from mediaforge.jobs.schemas import JobCreate

        with rt.db.session() as session:
            ids = {
                jobs.create(
                    session, OWNER, JobCreate(type="debug.noop"), registry=rt.registry, settings=rt.settings
                )[0].id
                for _ in range(WARM_UP_PER_SLOT * slots)
            }

        wait_until(lambda: _alive(processes) and _drained(rt, None), timeout=60, what="warm-up jobs")
        return ids


def _create(rt: Any, spec: Any) -> str:
    from mediaforge.jobs import service as jobs

    with rt.db.session() as session:
        job, _ = jobs.create(session, OWNER, spec, registry=rt.registry, settings=rt.settings)
    return str(job.id)


def _finished(rt: Any, job_id: str) -> Any:
    from mediaforge.jobs.models import Job

    with rt.db.session(read_only=True) as session:
        job = session.get(Job, job_id)
    return job if job is not None and job.status in TERMINAL else None


def _drained(rt: Any, expected: int | None) -> bool:
    """Nothing queued or running outside the held queue, and ``expected`` jobs finished if given."""
    from mediaforge.jobs.repository import JobRepository

    with rt.db.session(read_only=True) as session:
        repo = JobRepository(session)
        counts = repo.counts_by_status()
        held = repo.queue_depths().get((HELD_QUEUE, "queued"), 0)
    pending = counts.get("queued", 0) + counts.get("running", 0) - held
    finished = sum(counts.get(s, 0) for s in TERMINAL)
    return pending == 0 and (expected is None or finished >= expected)


def _alive(processes: list[Process]) -> bool:
    """True, or the error of the first worker that died (with the tail of its log)."""
    for process in processes:
        process.check_alive()
    return True


def _registered(rt: Any, names: list[str]) -> bool:
    from sqlalchemy import func, select

    from mediaforge.workers.models import Worker as WorkerRow

    with rt.db.session(read_only=True) as session:
        query = select(func.count()).where(WorkerRow.id.in_(names), WorkerRow.status == "active")
        active = session.scalar(query)
    return bool(active == len(names))


def _pg_backends(rt: Any) -> list[int]:
    from sqlalchemy import text

    with rt.db.session(read_only=True) as session:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [int(pid) for pid in session.scalars(query)]


def _mediaforge_argv(name: str, concurrency: int) -> list[str]:
    script = Path(sys.executable).parent / "mediaforge"
    head = [str(script)] if script.exists() else [sys.executable, "-m", "mediaforge"]
    return [*head, "worker", "--concurrency", str(concurrency), "--name", name]


def _worker_env(settings: Any) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFORGE_")}
    return {
        **inherited,
        "MEDIAFORGE_DATABASE_URL": settings.database_url,
        "MEDIAFORGE_STORAGE_URL": settings.storage_url,
        "MEDIAFORGE_DATA_DIR": str(settings.data_dir),
        "MEDIAFORGE_LOG_LEVEL": "WARNING",
    }


# --- Celery --------------------------------------------------------------------------------
class CeleryBench:
    """Celery 5 with a Redis broker and result backend, prefork pool, on queues no other run uses."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        import redis

        self.args = args
        self.workdir = workdir
        self.queue = f"bench-engine-{os.urandom(4).hex()}"
        os.environ["BENCH_REDIS_URL"] = args.redis_url
        os.environ["BENCH_CELERY_QUEUE"] = self.queue
        import celery_app

        self.tasks = celery_app
        self.redis = redis.Redis.from_url(args.redis_url)
        self.redis.ping()
        self._runs = 0

    def enqueue(self, result: Result) -> None:
        noop = self.tasks.noop
        for _ in range(20):
            noop.apply_async()
        for _ in range(self.args.enqueue):
            started = time.perf_counter()
            noop.apply_async()
            result.enqueue.append(time.perf_counter() - started)
        self.redis.delete(self.queue)

    def dispatch(self, result: Result) -> None:
        stamp = self.tasks.stamp
        with owned(self._worker()) as worker:
            self._warm_up(worker)
            for _ in range(self.args.samples):
                sent = time.time()
                handle = stamp.apply_async()
                started = handle.get(timeout=10)
                handle.forget()
                result.dispatch.append(started - sent)
                time.sleep(DISPATCH_GAP)

    def throughput(self, result: Result) -> None:
        self._runs += 1
        n, key, held = self.args.jobs, f"{self.queue}:done-{self._runs}", f"{self.queue}-held"
        count = self.tasks.count
        started = time.perf_counter()
        for _ in range(n):
            count.apply_async(args=(key, n), queue=held)
        log(f"  {n} tasks published in {time.perf_counter() - started:.1f} s")
        with owned(self._worker()) as worker:
            self._warm_up(worker)
            cpu = CpuMeter([worker.popen.pid])
            redis_start = self._redis_cpu()
            self.redis.rename(held, self.queue)  # the whole batch becomes consumable at once

            def done() -> bool:
                worker.check_alive()
                return bool(int(self.redis.get(key) or 0) >= n)

            wait_until(done, timeout=max(120.0, n / 20), interval=0.25, what=f"{n} Celery tasks")
            worker_cpu, _ = cpu.stop()
            redis_cpu = self._redis_cpu() - redis_start
        first, last = (float(self.redis.get(f"{key}:{end}") or "nan") for end in ("first", "last"))
        run = Run(n / (last - first), worker_cpu / n, redis_cpu / n)
        result.throughput.setdefault("celery", []).append(run)
        log(
            f"  {run.rate:.0f} jobs/s, CPU per job {run.worker_cpu * 1e3:.2f} ms worker"
            f" + {redis_cpu / n * 1e3:.2f} ms Redis"
        )

    def _warm_up(self, worker: Process) -> None:
        """Wait until the worker answers (it connects after start-up), then a few more round trips."""
        deadline = time.monotonic() + 60
        while True:
            worker.check_alive()
            try:
                self.tasks.stamp.apply_async().get(timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Celery worker not answering after 60 s:\n{worker.tail()}") from None
        for _ in range(4):
            self.tasks.stamp.apply_async().get(timeout=10)

    def _redis_cpu(self) -> float:
        info = self.redis.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def _worker(self) -> Process:
        celery = Path(sys.executable).parent / "celery"
        argv = [
            str(celery),
            "-A",
            "bench.celery_app",
            "worker",
            "--concurrency",
            "2",
            "-P",
            "prefork",
            "-Q",
            self.queue,
            "-n",
            f"{self.queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return Process("celery-worker", argv, env=env, log_dir=self.workdir)

    def close(self) -> None:
        keys = {*self.redis.scan_iter(f"*{self.queue}*")}
        if keys:
            self.redis.delete(*keys)
        self.redis.close()


# --- the run -------------------------------------------------------------------------------
def run_all(
    args: argparse.Namespace, backends: list[str], workdir: Path
) -> tuple[dict[str, Result], list[str]]:
    """Every phase for every backend, phase by phase; a failing step is recorded and the run goes on."""
    results = {b: Result() for b in backends}
    loads = [f"start: {host_load()}"]

    def step(backend: str, what: str, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        log(f"{backend}: {what}")
        started = time.perf_counter()
        try:
            fn(results[backend], *args, **kwargs)
        except Exception as exc:
            results[backend].errors.append(f"{backend} {what}: {_oneline(exc)}")
            log(f"{backend}: {what} FAILED: {type(exc).__name__}: {exc}")
        else:
            log(f"{backend}: {what} done in {time.perf_counter() - started:.1f} s")

    engines = {b: Mediaforge(b, args, workdir) for b in backends if b != "celery"}
    celery: CeleryBench | None = None
    if "celery" in backends:
        try:
            celery = CeleryBench(args, workdir)
        except Exception as exc:
            results["celery"].errors.append(f"celery: {_oneline(exc)}")
    try:
        for b, engine in engines.items():
            step(b, "enqueue", engine.enqueue)
        if celery:
            step("celery", "enqueue", celery.enqueue)
        for b, engine in engines.items():
            step(b, "dispatch", engine.dispatch, embedded=False)
        if celery:
            step("celery", "dispatch", celery.dispatch)
        for b, engine in engines.items():
            step(b, "dispatch (embedded worker)", engine.dispatch, embedded=True)
        loads.append(f"before throughput: {host_load()}")
        for round_ in range(1, args.rounds + 1):
            for setup in map(Setup.parse, args.setups.split(",")):
                for b, engine in engines.items():
                    step(b, f"throughput {setup.name} (round {round_})", engine.throughput, setup)
            if celery:
                step("celery", f"throughput (round {round_})", celery.throughput)
    finally:
        if celery:
            celery.close()
    loads.append(f"end: {host_load()}")
    return results, loads


def _oneline(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"


def _ms(values: list[float], q: float) -> float | None:
    return percentile(values, q) * 1000 if values else None


def _num(value: float | None, goal: Callable[[float], bool] | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"
    return text if goal is None else f"{text} {'✓' if goal(value) else '✗'}"


def report(results: dict[str, Result], args: argparse.Namespace, header: str, loads: list[str]) -> str:
    order = [b for b in NAMES if b in results]
    celery = results["celery"].best() if "celery" in results else None

    def row(label: str, goal: str, cell: Callable[[str, Result], str]) -> list[str]:
        return [label, *(cell(b, results[b]) for b in order), goal]

    def goal_for(b: str, check: Callable[[float], bool]) -> Callable[[float], bool] | None:
        return None if b == "celery" else check  # the goals are mediaforge's

    def throughput(b: str, r: Result) -> str:
        best = r.best()
        if best is None:
            return "—"
        checks: list[Callable[[float], bool]] = [lambda v: v >= 500] if b == "postgres" else []
        if celery:
            checks.append(lambda v: v >= celery[1].rate)
        return _num(best[1].rate, goal_for(b, lambda v: all(c(v) for c in checks)))

    def ratio(b: str, r: Result) -> str:
        best = r.best()
        return f"{best[1].rate / celery[1].rate:.2f}" if best and celery else "—"

    def cpu(b: str, r: Result) -> str:
        best = r.best()
        if best is None:
            return "—"
        run = best[1]
        server = f" + {run.server_cpu * 1e3:.2f}" if run.server_cpu is not None else ""
        return f"{run.worker_cpu * 1e3:.2f}{server}"

    def setup(b: str, r: Result) -> str:
        best = r.best()
        return "—" if best is None else CELERY_SETUP if b == "celery" else Setup.parse(best[0]).label

    rows = [
        row("enqueue p50 (ms)", "≤ 5", lambda b, r: _num(_ms(r.enqueue, 50), goal_for(b, lambda v: v <= 5))),
        row("enqueue p99 (ms)", "", lambda b, r: _num(_ms(r.enqueue, 99))),
        row("dispatch p50 (ms)", "", lambda b, r: _num(_ms(r.dispatch, 50))),
        row(
            "dispatch p99 (ms)",
            "≤ 50",
            lambda b, r: _num(_ms(r.dispatch, 99), goal_for(b, lambda v: v <= 50)),
        ),
        row("no-op throughput (jobs/s)", "≥ 500 on PostgreSQL; ≥ Celery", throughput),
        row("throughput ÷ Celery", "≥ 1", ratio),
        row("CPU ms per job: workers + server", "", cpu),
        row("throughput setup (best)", "", setup),
    ]
    parts = [
        f"# Engine benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        header,
        f"Enqueue N={args.enqueue} (one per transaction / `apply_async`); dispatch {args.samples} samples "
        f"(idle standalone worker, one job at a time); throughput N={args.jobs} no-op jobs, filled "
        f"{args.batch} per transaction into a held queue, released at once to warm workers; "
        f"median of {args.rounds} round(s). Host: {'; '.join(loads)}.",
        "",
        markdown_table(["", *(NAMES[b] for b in order), "goal"], rows),
    ]
    per_setup = []
    for b in order:
        for name, runs in results[b].throughput.items():
            med = results[b].median(name)
            per_setup.append(
                [
                    NAMES[b],
                    CELERY_SETUP if b == "celery" else Setup.parse(name).label,
                    _num(med.rate),
                    ", ".join(_num(r.rate) for r in runs),
                    f"{med.worker_cpu * 1e3:.2f}",
                    "—" if med.server_cpu is None else f"{med.server_cpu * 1e3:.2f}",
                ]
            )
    if per_setup:
        parts += [
            "",
            "Throughput by worker setup (CPU: ms per job, median run; server = PostgreSQL backends "
            "or redis-server):",
            "",
            markdown_table(["backend", "setup", "jobs/s", "rounds", "worker CPU", "server CPU"], per_setup),
        ]
    more = []
    for b in order:
        r = results[b]
        if r.dispatch_embedded:
            more.append(
                [
                    NAMES[b],
                    "dispatch, embedded worker (in the enqueuing process, as `serve` runs it)",
                    _num(_ms(r.dispatch_embedded, 50)),
                    _num(_ms(r.dispatch_embedded, 99)),
                ]
            )
        if r.run:
            more.append(
                [
                    NAMES[b],
                    "started → finished of one no-op (the engine's own cost)",
                    _num(_ms(r.run, 50)),
                    _num(_ms(r.run, 99)),
                ]
            )
    if more:
        table = markdown_table(["backend", "what", "p50", "p99"], more)
        parts += ["", "More mediaforge timings (ms):", "", table]
    errors = [e for b in order for e in results[b].errors]
    if errors:
        parts += ["", "Errors:", "", *(f"- {e}" for e in errors)]
    return "\n".join(parts) + "\n"


def describe(backends: list[str], args: argparse.Namespace) -> str:
    import sqlalchemy

    found = [
        f"{os.cpu_count()} CPUs",
        f"Python {platform.python_version()}",
        f"SQLAlchemy {sqlalchemy.__version__}",
    ]
    if "sqlite" in backends:
        import sqlite3

        found.append(f"SQLite {sqlite3.sqlite_version}")
    if "postgres" in backends:
        try:
            import psycopg

            with psycopg.connect(args.pg_admin_url) as conn:
                row = conn.execute("SHOW server_version").fetchone()
            found.append(f"PostgreSQL {row[0].split()[0] if row else '?'}")
        except Exception:
            found.append("PostgreSQL unreachable")
    if "celery" in backends:
        try:
            import celery
            import redis

            info = redis.Redis.from_url(args.redis_url).info("server")
            found += [f"Celery {celery.__version__}", f"Redis {info['redis_version']}"]
        except Exception:
            found.append("Redis unreachable")
    return ", ".join(found) + "."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=5000, help="no-op jobs per throughput run")
    parser.add_argument("--enqueue", type=int, default=1000, help="enqueue latency samples")
    parser.add_argument("--samples", type=int, default=200, help="dispatch latency samples")
    parser.add_argument("--batch", type=int, default=500, help="jobs per transaction when filling the queue")
    parser.add_argument("--rounds", type=int, default=1, help="throughput runs per setup (the median counts)")
    parser.add_argument("--backends", default="sqlite,postgres,celery")
    parser.add_argument(
        "--setups",
        default="proc2x2,proc1x4,inproc4",
        help="mediaforge throughput setups: procPxC = P `mediaforge worker` processes of "
        "concurrency C; inprocC = one Worker(concurrency=C) in this process (the defaults all run "
        "four work processes)",
    )
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--no-save", action="store_true", help="print only; do not write bench/results/")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - set(NAMES):
        raise SystemExit(f"unknown backend(s): {', '.join(sorted(unknown))}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: finally blocks stop workers, drop DBs

    from mediaforge.logging import configure_logging

    configure_logging("WARNING", json=False)
    measured = revision()
    with tempfile.TemporaryDirectory(prefix="mf-bench-engine-") as tmp:
        results, loads = run_all(args, backends, Path(tmp))
    if (after := revision()) != measured:  # others edit src/ while we measure: say so
        measured = f"{measured}, changed during the run to {after}"
    text = report(results, args, f"mediaforge {measured}. {describe(backends, args)}", loads)
    print(text)
    if not args.no_save:
        log(f"saved {write_result('engine', text)}")
    return 1 if any(r.errors for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
