"""The command line as a user runs it: the README's serve command, migrate, doctor, accounts, keys."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def run_cli(*args: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIAFORGE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "mediaforge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_migrate_creates_the_sqlite_database_under_the_data_dir(tmp_path: Path) -> None:
    """`mediaforge migrate` with no configuration creates var/mediaforge.db."""
    result = run_cli("migrate", data_dir=tmp_path)
    assert 0 == result.returncode, result.stderr
    assert (tmp_path / "mediaforge.db").exists()


def test_doctor_reports_config_and_processors(tmp_path: Path) -> None:
    """`mediaforge doctor --json` lists the effective config and every processor's availability."""
    run_cli("migrate", data_dir=tmp_path)
    result = run_cli("doctor", "--json", data_dir=tmp_path)
    report = json.loads(result.stdout)
    names = {p["name"]: p["available"] for p in report["processors"]}
    assert (True, True) == (names["image.info"], names["debug.sleep"])
    assert report["database"].startswith("ok")


@contextmanager
def serving(data_dir: Path, *args: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``mediaforge serve`` on a free port until SIGTERM; yields its base URL and the process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediaforge", "serve", "--port", str(port), "--workers", "1", *args],
        env={**os.environ, "MEDIAFORGE_DATA_DIR": str(data_dir), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_serve_answers_and_runs_a_job_then_stops_on_sigterm(tmp_path: Path) -> None:
    """The README's `make serve` (auth off on loopback) runs a job and exits cleanly on SIGTERM."""
    with serving(tmp_path, MEDIAFORGE_AUTH_DISABLED="true") as (base, proc):
        job = httpx.post(f"{base}/v1/jobs", json={"type": "debug.sleep", "params": {"seconds": 0.1}}).json()
        done = httpx.get(f"{base}/v1/jobs/{job['id']}", params={"wait": 20}, timeout=30).json()
        assert "succeeded" == done["status"]
    assert proc.stderr is not None
    # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert proc.returncode in (0, -signal.SIGTERM)
    assert b"worker_stopped" in proc.stderr.read()


def test_accounts_and_keys_from_the_cli_open_the_api(tmp_path: Path) -> None:
    """accounts create, keys create (secret alone on the last line), keys list, keys revoke."""
    created = run_cli("accounts", "create", "ops@example.com", data_dir=tmp_path)
    assert created.returncode == 0, created.stderr
    made = run_cli("keys", "create", "--owner", "ops@example.com", "--name", "deploy", data_dir=tmp_path)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    listed = run_cli("keys", "list", data_dir=tmp_path).stdout
    key_id = listed.splitlines()[1].split("\t")[0]
    assert ("deploy" in listed, secret in listed) == (True, False)
    with serving(tmp_path) as (base, _):
        assert httpx.get(f"{base}/v1/jobs").status_code == 401
        assert httpx.get(f"{base}/v1/jobs", headers={"X-API-Key": secret}).status_code == 200
        assert run_cli("keys", "revoke", key_id, data_dir=tmp_path).returncode == 0
        assert httpx.get(f"{base}/v1/jobs", headers={"X-API-Key": secret}).status_code == 401
    missing = run_cli("keys", "create", "--owner", "nobody@example.com", data_dir=tmp_path)
    assert (missing.returncode, "not found" in missing.stderr) == (1, True)


def test_serve_refuses_auth_off_on_a_public_address(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mediaforge", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env={**os.environ, "MEDIAFORGE_DATA_DIR": str(tmp_path), "MEDIAFORGE_AUTH_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, "refused" in result.stderr) == (2, True)
