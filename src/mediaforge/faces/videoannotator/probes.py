"""What the health and system endpoints report: host, database, storage, GPU, workers.

The GPU probe is cheap and needs no ML stack: torch when it is installed, else ``nvidia-smi``, else
``{"available": false, "reason": "CUDA not available"}``; its answer is cached for 30 s.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import text
from sqlalchemy.orm import Session

from mediaforge.faces.videoannotator import queries
from mediaforge.identity.principal import Principal
from mediaforge.runtime import Runtime
from mediaforge.workers import repository as workers

__all__ = [
    "MIN_COMPUTE_CAPABILITY",
    "compatibility",
    "database",
    "disk_path",
    "gpu",
    "host",
    "storage",
    "uptime_seconds",
    "workers_section",
]

MIN_COMPUTE_CAPABILITY = 7.0
"""Modern PyTorch (2.5+) needs compute capability 7.0 (Volta) or higher."""
_GPU_TTL = 30.0
_gpu_cache: tuple[float, dict[str, Any]] | None = None
_gpu_lock = threading.Lock()


def host(data_dir: Path) -> dict[str, Any]:
    """Platform, CPU and memory, and the disk that holds ``data_dir`` (bytes)."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(disk_path(data_dir)))
    return {
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "cpu_count": psutil.cpu_count() or os.cpu_count() or 1,
        "cpu_percent": psutil.cpu_percent(interval=0.1),
        "memory_percent": memory.percent,
        "memory": {
            "total": memory.total,
            "available": memory.available,
            "percent": memory.percent,
            "used": memory.used,
            "free": memory.free,
        },
        "disk": {"total": disk.total, "used": disk.used, "free": disk.free, "percent": disk.percent},
    }


def disk_path(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (the data dir may not exist yet)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def uptime_seconds() -> int:
    """How long this server process has been running."""
    return int(time.time() - psutil.Process().create_time())


def database(session: Session) -> dict[str, Any]:
    """``{ok, message, writable, jobs_count}``: one round trip, then whether writes are possible."""
    try:
        session.execute(text("SELECT 1"))
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            writable = not session.scalar(text("SELECT pg_is_in_recovery()"))
        else:
            path = session.get_bind().engine.url.database
            writable = path in (None, "", ":memory:") or os.access(path, os.W_OK)
        jobs_count = sum(queries.count_by_status(session).values())
    except Exception as exc:
        return {"ok": False, "message": f"Database error: {exc}".splitlines()[0], "writable": False}
    return {
        "ok": True,
        "message": "Database is accessible",
        "writable": bool(writable),
        "jobs_count": jobs_count,
    }


def storage(rt: Runtime) -> dict[str, Any]:
    """Storage health: reachable, and for local storage the disk's free space (GB) and a warning."""
    try:
        rt.storage.check()
    except Exception as exc:
        return {"status": "error", "error": str(exc)}
    root = getattr(rt.storage, "root", None)
    if root is None:
        return {"status": "ok", "backend": rt.storage.name}
    disk = psutil.disk_usage(str(disk_path(Path(root))))
    gb = 1024**3
    out: dict[str, Any] = {
        "status": "ok",
        "free_gb": round(disk.free / gb, 1),
        "used_gb": round(disk.used / gb, 1),
        "total_gb": round(disk.total / gb, 1),
        "percent_used": round(disk.percent, 1),
    }
    if disk.percent >= 90 or disk.free < gb:
        out["status"] = "warning"
        out["warning"] = f"Low disk space: {out['free_gb']} GB free ({out['percent_used']}% used)"
    return out


def gpu() -> dict[str, Any]:
    """The first GPU as ``/system/health`` shows it (bytes), with ``devices`` for ``/health``."""
    global _gpu_cache
    with _gpu_lock:
        now = time.monotonic()
        if _gpu_cache is None or now - _gpu_cache[0] > _GPU_TTL:
            _gpu_cache = (now, _probe_gpu())
        return dict(_gpu_cache[1])


def _probe_gpu() -> dict[str, Any]:
    if importlib.util.find_spec("torch") is not None:
        found = _torch_gpu()
        if found is not None:
            return found
    if executable := shutil.which("nvidia-smi"):
        found = _smi_gpu(executable)
        if found is not None:
            return found
    return {"available": False, "reason": "CUDA not available"}


def _torch_gpu() -> dict[str, Any] | None:
    try:
        torch: Any = importlib.import_module("torch")
        if not torch.cuda.is_available():
            return None
        index = torch.cuda.current_device()
        major, minor = torch.cuda.get_device_capability(index)
        devices = []
        for i in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(i)
            devices.append(
                {"name": torch.cuda.get_device_name(i), "memory_total": total, "memory_free": free}
            )
        out = {
            "available": True,
            "device_count": len(devices),
            "current_device": index,
            "device_name": torch.cuda.get_device_name(index),
            "compute_capability": f"{major}.{minor}",
            "memory_allocated": int(torch.cuda.memory_allocated(index)),
            "memory_reserved": int(torch.cuda.memory_reserved(index)),
            "devices": devices,
            "pytorch_version": str(torch.__version__).split("+", 1)[0],
        }
    except Exception:
        return None
    return {**out, **(compatibility(out["compute_capability"], out["pytorch_version"]) or {})}


def _smi_gpu(executable: str) -> dict[str, Any] | None:
    query = "index,name,memory.total,memory.used,memory.free,compute_cap"
    argv = [executable, f"--query-gpu={query}", "--format=csv,noheader,nounits"]
    try:
        done = subprocess.run(  # noqa: S603 (a fixed argv, no shell, nothing from a request)
            argv,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_smi(done.stdout)


def parse_smi(output: str) -> dict[str, Any] | None:
    """The GPU section from ``nvidia-smi --query-gpu=index,name,memory.total,memory.used,memory.free,
    compute_cap --format=csv,noheader,nounits`` (memory in MiB)."""
    mib = 1024**2
    devices = []
    for line in output.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 6:
            continue
        try:
            total, used, free = (int(float(p)) * mib for p in parts[2:5])
        except ValueError:
            continue
        devices.append(
            {
                "name": parts[1],
                "memory_total": total,
                "memory_used": used,
                "memory_free": free,
                "cc": parts[5],
            }
        )
    if not devices:
        return None
    first = devices[0]
    out: dict[str, Any] = {
        "available": True,
        "device_count": len(devices),
        "current_device": 0,
        "device_name": first["name"],
        "compute_capability": first["cc"],
        "memory_total": first["memory_total"],
        "memory_used": first["memory_used"],
        "devices": [{k: v for k, v in d.items() if k != "cc"} for d in devices],
        "source": "nvidia-smi",
    }
    return {**out, **(compatibility(str(first["cc"])) or {})}


def compatibility(capability: str, pytorch_version: str = "2.5.0") -> dict[str, Any] | None:
    """The contract's warning for a GPU below compute capability 7.0; None when it is recent enough."""
    try:
        value = float(capability)
    except ValueError:
        return None
    if value >= MIN_COMPUTE_CAPABILITY:
        return None
    return {
        "compatibility_warning": (
            f"GPU compute capability {capability} is below PyTorch {pytorch_version} minimum requirement "
            f"({MIN_COMPUTE_CAPABILITY}). GPU acceleration may not work. Consider downgrading PyTorch to "
            "1.13.x for older GPUs or upgrading hardware."
        ),
        "pytorch_version": pytorch_version,
        "min_compute_capability": MIN_COMPUTE_CAPABILITY,
    }


def workers_section(session: Session, rt: Runtime, viewer: Principal | None) -> dict[str, Any]:
    """The embedded-or-standalone workers as the contract's ``workers`` section.

    Counts are global; ``processing_jobs`` lists only the ids the viewer may see (none for anonymous).
    """
    live = workers.live(session)
    running = queries.ids_in_status(session, "running")
    mine = queries.ids_in_status(session, "running", owner_id=viewer.sees) if viewer else []
    counts = queries.count_by_status(session)
    return {
        "status": "running" if live else "stopped",
        "active_jobs": len(running),
        "processing_jobs": mine,
        "queued_jobs": counts["pending"],
        "max_concurrent_workers": sum(w.concurrency for w in live),
        "poll_interval_seconds": rt.settings.worker_poll_seconds,
        "workers": len(live),
    }
