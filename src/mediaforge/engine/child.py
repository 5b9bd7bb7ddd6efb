"""The work process: runs one processor call at a time for its supervising slot.

It talks to its slot over a pipe. Slot -> child: first ``("settings", Settings)``, then
``("run", task)`` and ``("cancel",)``.
Child -> slot: ``("progress", percent, message)``, then one of ``("done", output)``,
``("error", type, message, delay)`` or ``("cancelled",)``. The child dies with its worker
(PR_SET_PDEATHSIG), so a worker killed with SIGKILL leaves no orphan still working.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import sys
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from mediaforge.config import Settings
from mediaforge.processors.base import InputFile, JobCancelled, PermanentFailure, Retry
from mediaforge.processors.registry import default_registry

__all__ = ["child_main"]

_PROGRESS_EVERY = 0.2


class ChildContext:
    """The ``Context`` a processor sees inside the work process."""

    def __init__(self, conn: Connection, task: dict[str, Any], settings: Settings) -> None:
        self._conn = conn
        self.settings = settings
        self.job_id: str = task["job_id"]
        self.attempt: int = task["attempt"]
        self._tmp_dir = Path(task["tmp_dir"])
        self._cancelled = False
        self._last_progress = 0.0

    @property
    def tmp_dir(self) -> Path:
        """The job's scratch folder, created on first use (the engine removes it afterwards)."""
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        return self._tmp_dir

    def progress(self, percent: float, message: str | None = None) -> None:
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_EVERY or percent >= 100:
            self._last_progress = now
            self._conn.send(("progress", max(0.0, min(100.0, float(percent))), message))

    def check_cancelled(self) -> None:
        while self._conn.poll():
            if self._conn.recv()[0] == "cancel":
                self._cancelled = True
        if self._cancelled:
            raise JobCancelled()

    def log(self, event: str, **fields: Any) -> None:
        self._conn.send(("log", event, fields))


def child_main(conn: Connection, memory_limit_mb: int) -> None:
    """Serve run requests until the pipe closes."""
    _die_with_parent()
    if memory_limit_mb:
        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the worker, which drains
    registry = default_registry()
    settings: Settings | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "settings":
            settings = message[1]
        elif message[0] == "run":
            assert settings is not None, "the worker sends its settings first"
            conn.send(_run(registry, conn, message[1], settings))


def _run(registry: Any, conn: Connection, task: dict[str, Any], settings: Settings) -> tuple[Any, ...]:
    ctx = ChildContext(conn, task, settings)
    try:
        processor = registry.get(task["type"])
        params = processor.parse_params(task["params"])
        inputs = [InputFile(**{**i, "path": Path(i["path"])}) for i in task["inputs"]]
        output = processor.run(ctx, inputs, params)
    except JobCancelled:
        return ("cancelled",)
    except PermanentFailure as exc:
        return ("error", exc.type, str(exc), None)
    except Retry as exc:
        return ("error", "retry", str(exc), exc.delay)
    except MemoryError:
        return ("error", "out_of_memory", "the processor ran out of memory", None)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc) or repr(exc), None)
    files = [{"path": str(f.path), "filename": f.filename, "role": f.role} for f in output.files]
    return (
        "done",
        {"result": output.result, "files": files, "children": [asdict(c) for c in output.children]},
    )


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(0)


if __name__ == "__main__":
    child_main(Connection(int(sys.argv[1])), int(sys.argv[2]))
