"""A persistent work process per slot, replaced after a hard kill.

The child is a plain ``python -m mediaforge.engine.child FD`` subprocess talking over a socket
pair: nothing of the parent's ``__main__`` is re-imported, and no start method is inherited.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mediaforge.config import Settings

__all__ = ["WorkProcess"]


class WorkProcess:
    """One child process and the parent's end of its pipe; started lazily, restarted after kill.

    The first message a new child gets is the worker's ``Settings``, so processors read the same
    configuration as the worker that runs them (not whatever the environment says).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._memory_limit_mb = settings.worker_memory_limit_mb
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None

    @property
    def conn(self) -> Connection:
        if self._process is None or self._process.poll() is not None:
            self.start()
        assert self._conn is not None
        return self._conn

    def start(self) -> None:
        self.close()
        parent, child = socket.socketpair()
        fd = child.fileno()
        self._process = subprocess.Popen(  # noqa: S603  # our own interpreter and module, no user input
            [sys.executable, "-m", "mediaforge.engine.child", str(fd), str(self._memory_limit_mb)],
            pass_fds=[fd],
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        child.close()
        self._conn = Connection(parent.detach())
        self._conn.send(("settings", self._settings))  # processors see the worker's settings

    def send(self, message: tuple[Any, ...]) -> None:
        self.conn.send(message)

    def kill(self) -> None:
        """Hard stop (SIGKILL); the next ``conn`` access starts a fresh process."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(5)
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(5)
            self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None
