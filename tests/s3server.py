"""Pytest plugin: a real S3-compatible server (nanio) for the whole session.

Register with ``pytest_plugins = ["tests.s3server"]``. Fixtures: ``s3_server`` (session) and
``s3_bucket`` (a fresh, empty bucket per test). Without the ``nanio`` executable the fixtures
skip, except under ``CI`` where a missing server is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Server", "s3_bucket", "s3_server"]

_STARTUP_TIMEOUT = 20.0


@dataclass(frozen=True)
class S3Server:
    """Where the test server listens and the credentials it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    @cached_property
    def client(self) -> S3Client:
        """A boto3 S3 client for this server (path style, SigV4), built once."""
        from boto3.session import Session
        from botocore.config import Config

        return Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _nanio_executable() -> str | None:
    beside_python = Path(sys.executable).with_name("nanio")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("nanio")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nanio exited with {proc.returncode}:\n{log.read_text()}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"nanio did not answer within {_STARTUP_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A nanio server on a free local port with its own data directory."""
    executable = _nanio_executable()
    if executable is None:
        message = "nanio is not installed (pip install nanio) — S3 tests need it"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("nanio")
    port = _free_port()
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key="mediaforge-test",
        secret_key=uuid.uuid4().hex,
    )
    env = {**os.environ, "NANIO_ACCESS_KEY": server.access_key, "NANIO_SECRET_KEY": server.secret_key}
    log = root / "nanio.log"
    args = [executable, "serve", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--data-dir", str(root / "data"), "--log-level", "warning", "--no-access-log"]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(proc, server.endpoint_url, log)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """The name of a new, empty bucket on the session server."""
    name = f"mf-{uuid.uuid4().hex}"
    s3_server.client.create_bucket(Bucket=name)
    return name
