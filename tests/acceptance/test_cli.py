"""The command line as a user runs it: the README's serve command, migrate, doctor."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
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


def test_serve_answers_and_runs_a_job_then_stops_on_sigterm(tmp_path: Path) -> None:
    """The README's serve command starts with zero config, runs a job, and exits cleanly on SIGTERM."""
    port = free_port()
    env = {**os.environ, "MEDIAFORGE_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediaforge", "serve", "--port", str(port), "--workers", "1"],
        env=env,
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
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        job = httpx.post(f"{base}/v1/jobs", json={"type": "debug.sleep", "params": {"seconds": 0.1}}).json()
        done = httpx.get(f"{base}/v1/jobs/{job['id']}", params={"wait": 20}, timeout=30).json()
        assert "succeeded" == done["status"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert proc.stderr is not None
    # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert code in (0, -signal.SIGTERM)
    assert b"worker_stopped" in proc.stderr.read()
