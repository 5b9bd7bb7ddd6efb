"""Helpers the benchmarks share: percentiles, bounded waits, owned subprocesses, markdown tables."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "BENCH_DIR",
    "ROOT",
    "CpuMeter",
    "Process",
    "host_load",
    "log",
    "markdown_table",
    "owned",
    "percentile",
    "process_cpu",
    "revision",
    "temporary_postgres_database",
    "tree_cpu",
    "wait_until",
    "write_result",
]

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def log(message: str) -> None:
    """Progress goes to stderr so stdout carries only the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linearly interpolated between ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Process:
    """A subprocess this benchmark owns: its own process group, output in a log file, always stopped."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (both engines drain on it), then SIGKILL to the whole group after ``grace`` s."""
        try:
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGTERM)
                try:
                    self.popen.wait(grace)
                except subprocess.TimeoutExpired:
                    log(f"{self.name} did not drain in {grace:g} s; killing its process group")
            self._signal_group(signal.SIGKILL)
            self.popen.wait(5)
        finally:
            self._log.close()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)  # the group this process leads (start_new_session)

    def tail(self, lines: int = 20) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@contextmanager
def owned(process: Process) -> Iterator[Process]:
    """Stop ``process`` when the block exits, however it exits."""
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def temporary_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<random>`` on the server of ``admin_url``; yield its URL; drop it at exit."""
    import psycopg

    name = f"{prefix}_{os.urandom(4).hex()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table with columns padded for reading in a terminal."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def write_result(name: str, text: str) -> Path:
    """Save ``text`` as ``bench/results/<name>-<date>.md`` (git-ignored) and return the path."""
    path = BENCH_DIR / "results" / f"{name}-{dt.date.today().isoformat()}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(roots: Sequence[int]) -> float:
    """CPU seconds used by ``roots`` and every live descendant (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0.0, list(roots)
    while stack:
        pid = stack.pop()
        total += process_cpu(pid)
        stack.extend(children.get(pid, []))
    return total


class CpuMeter:
    """CPU seconds spent from now until ``stop()`` by process trees and by server processes.

    ``servers`` is asked for its pids at both ends (a connection pool may open backends meanwhile).
    """

    def __init__(self, roots: Sequence[int], servers: Callable[[], Sequence[int]] = lambda: ()) -> None:
        self._roots, self._servers = roots, servers
        self._tree_start = tree_cpu(roots)
        self._server_start = {pid: process_cpu(pid) for pid in servers()}

    def stop(self) -> tuple[float, float]:
        """(tree CPU, server CPU) seconds since the meter started."""
        tree = tree_cpu(self._roots) - self._tree_start
        server = sum(process_cpu(pid) - self._server_start.get(pid, 0.0) for pid in self._servers())
        return tree, server


def host_load() -> str:
    """The 1-minute load average and the share of CPU time not idle over the last second."""

    def times() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values), values[3] + values[4]

    total, idle = times()
    time.sleep(1.0)
    total2, idle2 = times()
    busy = 1 - (idle2 - idle) / max(1, total2 - total)
    return f"load average {os.getloadavg()[0]:.1f}, CPU {busy:.0%} busy"


def revision() -> str:
    """The commit measured, plus a fingerprint of uncommitted changes under ``src/`` if any."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changes = git("diff", "HEAD", "--", "src") + git("ls-files", "--others", "--exclude-standard", "src")
    except (OSError, subprocess.SubprocessError):
        return "(no git)"
    if not commit:
        return "(no git)"
    return f"{commit}+changes-{hashlib.sha1(changes.encode()).hexdigest()[:8]}" if changes else commit
