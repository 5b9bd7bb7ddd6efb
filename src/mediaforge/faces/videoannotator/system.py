"""Health, system and debug endpoints (``/api/v1/health``, ``/api/v1/system/*``, ``/api/v1/debug/*``).

Two health vocabularies, each as the contract writes it: ``/api/v1/health`` says ``ok`` / ``unhealthy``
(503 in detailed mode when the database, the storage or the registry is down; a missing GPU is not);
``/api/v1/system/health`` says ``healthy`` / ``unhealthy`` and always answers 200. Counts and names
of pipelines come from the catalog, never from constants.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Any

import psutil
from fastapi import Query, Request
from fastapi.responses import JSONResponse

from mediaforge import __version__
from mediaforge.api.deps import Caller, Principal, ReadSession, Rt, authenticate
from mediaforge.clock import utcnow
from mediaforge.errors import Unauthorized
from mediaforge.events import repository as events
from mediaforge.faces.videoannotator import probes, queries, service
from mediaforge.faces.videoannotator.envelope import iso, va_router
from mediaforge.faces.videoannotator.pipelines import CATALOG
from mediaforge.faces.videoannotator.requestlog import RETAINED, log_of
from mediaforge.faces.videoannotator.translate import API_VERSION, pipeline_of, progress_of, render
from mediaforge.identity.models import Credential
from mediaforge.runtime import Runtime

__all__ = ["router"]

router = va_router(prefix="/api/v1")
"""Credentials are not looked at here except where a route names its ``Caller`` (token-info, debug
job, request-log): health checks and the viewer's ``/system/health`` probe must answer whatever key
a client holds."""
Debugger = Annotated[Principal, Caller("jobs:read")]


def _pipelines(rt: Runtime) -> dict[str, Any]:
    names = [p.name for p in service.enabled(rt)]
    return {"total": len(names), "names": names}


# --- /api/v1/health ----------------------------------------------------------------------------------


@router.get(
    "/health",
    tags=["health"],
    responses={503: {"description": "Service unhealthy (detailed mode only)"}},
)
def health_check(
    session: ReadSession,
    rt: Rt,
    detailed: Annotated[bool, Query(description="Include detailed diagnostics (slower response)")] = False,
) -> JSONResponse:
    """Basic ``{status, version, timestamp}`` for load balancers; detailed adds database, storage, GPU,
    registry."""
    body: dict[str, Any] = {"status": "ok", "version": API_VERSION, "timestamp": iso(utcnow())}
    if not detailed:
        return JSONResponse(body)
    db = probes.database(session)
    database = (
        {"status": "ok", "message": db["message"], "jobs_count": db["jobs_count"]}
        if db["ok"]
        else {"status": "error", "error": db["message"]}
    )
    storage = probes.storage(rt)
    gpu = probes.gpu()
    gpu_view: dict[str, Any] = {"available": gpu["available"]}
    if gpu["available"]:
        gib = 1024**3
        gpu_view["device_count"] = gpu["device_count"]
        gpu_view["devices"] = [
            {
                "name": d["name"],
                "memory_total_gb": round(d["memory_total"] / gib, 1),
                "memory_free_gb": round(d["memory_free"] / gib, 1),
            }
            for d in gpu.get("devices", [])
        ]
    else:
        gpu_view["reason"] = gpu.get("reason")
    pipelines = _pipelines(rt)
    registry = {
        "status": "ok" if pipelines["total"] else "error",
        "pipelines_loaded": pipelines["total"],
        "pipeline_names": pipelines["names"],
    }
    if not pipelines["total"]:
        registry["error"] = "No pipeline is available on this server"
    healthy = db["ok"] and storage["status"] != "error" and registry["status"] == "ok"
    body["status"] = "ok" if healthy else "unhealthy"
    body["details"] = {"database": database, "storage": storage, "gpu": gpu_view, "registry": registry}
    return JSONResponse(body, status_code=200 if healthy else 503)


# --- /api/v1/system ------------------------------------------------------------------------------------


@router.get("/system/health", tags=["system"])
def detailed_health_check(session: ReadSession, rt: Rt, request: Request) -> dict[str, Any]:
    """Host, database, GPU, pipelines, workers, services and security; always 200 (``status`` says)."""
    now = iso(utcnow())
    versions = {"api_version": API_VERSION, "videoannotator_version": API_VERSION}
    db = probes.database(session)
    if not db["ok"]:
        return {"status": "unhealthy", "timestamp": now, "error": db["message"], **versions}
    database = {"status": "healthy", "message": db["message"], "writable": db["writable"]}
    pipelines = _pipelines(rt)
    return {
        "status": "healthy",
        "timestamp": now,
        **versions,
        "server_version": __version__,
        "system": probes.host(rt.settings.data_dir),
        "database": database,
        "gpu": _gpu_for_system(probes.gpu()),
        "pipelines": pipelines,
        "workers": probes.workers_section(session, rt, _viewer(rt, request)),
        "services": {
            "database": {"status": "healthy", "message": db["message"]},
            "job_queue": "embedded" if rt.settings.embedded_workers != 0 else "external",
            "pipelines": "ready" if pipelines["total"] else "unavailable",
        },
        "security": {"auth_required": not rt.settings.auth_disabled},
        "uptime_seconds": probes.uptime_seconds(),
    }


def _gpu_for_system(gpu: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in gpu.items() if k != "devices"}


@router.get("/system/metrics", tags=["system"])
def get_system_metrics(session: ReadSession, rt: Rt) -> dict[str, Any]:
    """CPU, memory, disk and job counts by status."""
    host = probes.host(rt.settings.data_dir)
    counts = queries.count_by_status(session)
    return {
        "timestamp": iso(utcnow()),
        "cpu_percent": host["cpu_percent"],
        "cpu_count": host["cpu_count"],
        "memory": host["memory"],
        "disk": host["disk"],
        "jobs": {"total": sum(counts.values()), "by_status": counts},
        "uptime_seconds": probes.uptime_seconds(),
    }


@router.get("/system/config", tags=["system"])
def get_system_config(rt: Rt) -> dict[str, Any]:
    """Non-sensitive configuration (no keys, no credentials, no database URL)."""
    s = rt.settings
    return {
        "api_version": API_VERSION,
        "server_version": __version__,
        "api_base_path": "/api/v1",
        "max_concurrent_workers": s.concurrency if s.embedded_workers is None else s.embedded_workers,
        "poll_interval_seconds": s.worker_poll_seconds,
        "supported_video_formats": [f.lower() for f in service.VIDEO_TYPES.values()],
        "max_upload_mb": round(s.max_upload_bytes / 1024**2, 1),
        "auth_required": not s.auth_disabled,
        "cors_origins": s.cors_origin_list,
        "database_backend": "sqlite" if s.is_sqlite else "postgresql",
        "storage_backend": s.storage_url.split(":", 1)[0],
        "result_retention_seconds": s.result_ttl_seconds,
        "sse_heartbeat_seconds": s.sse_heartbeat_seconds,
        "pipelines": [p.name for p in CATALOG],
    }


@router.get("/system/database", tags=["system"])
def get_database_info_endpoint(session: ReadSession, rt: Rt) -> dict[str, Any]:
    """Backend, location (masked), size and job statistics."""
    db = probes.database(session)
    s = rt.settings
    out: dict[str, Any] = {
        "backend": "sqlite" if s.is_sqlite else "postgresql",
        "url": s.public()["database_url"],
        "status": "healthy" if db["ok"] else "unhealthy",
        "message": db["message"],
        "writable": db["writable"],
    }
    if s.is_sqlite:
        path = session.get_bind().engine.url.database or ""
        out["path"] = path
        try:
            out["size_mb"] = round(os.path.getsize(path) / 1024**2, 2)
        except OSError:
            out["size_mb"] = None
    if db["ok"]:
        counts = queries.count_by_status(session)
        out["statistics"] = {"total_jobs": sum(counts.values()), "jobs_by_status": counts}
    return out


# --- /api/v1/debug -------------------------------------------------------------------------------------


@router.get("/debug/server-info", tags=["debug"])
def get_server_debug_info(request: Request, session: ReadSession, rt: Rt) -> dict[str, Any]:
    """Server version and uptime, database, pipelines, host and request statistics."""
    started = datetime.fromtimestamp(psutil.Process().create_time(), UTC)
    db = probes.database(session)
    host = probes.host(rt.settings.data_dir)
    return {
        "server": {
            "version": API_VERSION,
            "server_version": __version__,
            "start_time": iso(started),
            "uptime_seconds": probes.uptime_seconds(),
            "api_base_path": "/api/v1",
        },
        "database": {
            "status": "healthy" if db["ok"] else "unhealthy",
            "backend": "sqlite" if rt.settings.is_sqlite else "postgresql",
            "jobs_count": db.get("jobs_count"),
        },
        "pipelines": _pipelines(rt),
        "system": {k: host[k] for k in ("platform", "python_version", "cpu_count", "memory_percent")},
        "request_stats": log_of(request.app.state).stats(),
    }


@router.get("/debug/token-info", tags=["debug"])
def get_token_debug_info(who: Debugger, session: ReadSession, rt: Rt) -> dict[str, Any]:
    """The presented credential: valid, whose, its scopes and expiry, and the rate limit (never the key)."""
    credential = session.get(Credential, who.credential_id) if who.credential_id else None
    limit = rt.settings.rate_limits.get("api") or None
    return {
        "token": {
            "valid": True,
            "user_id": who.account_id,
            "kind": who.kind,
            "role": who.role,
            "permissions": sorted(who.scopes),
            "expires_at": iso(credential.expires_at) if credential else None,
            "rate_limit": {"limit": limit},
        },
        "auth_required": not rt.settings.auth_disabled,
    }


@router.get("/debug/pipelines", tags=["debug"])
def get_pipeline_debug_info(rt: Rt) -> dict[str, Any]:
    """Each pipeline, the processor behind it, whether it can run here and its parameter defaults."""
    out = []
    for pipeline in CATALOG:
        available = pipeline.availability(rt.registry)
        model = pipeline.params(rt.registry)
        out.append(
            {
                "name": pipeline.name,
                "display_name": pipeline.display_name,
                "status": "ready" if available.available else "unavailable",
                "enabled": available.available,
                "reason": available.reason,
                "install_hint": available.hint,
                "components": [
                    {
                        "name": pipeline.processor,
                        "enabled": available.available,
                        "model_loaded": available.available,
                        "parameters": model().model_dump(mode="json") if model else {},
                    }
                ],
            }
        )
    return {"pipelines": out, "total": len(out)}


@router.get("/debug/jobs/{job_id}", tags=["debug"])
def get_job_debug_info(job_id: str, who: Debugger, session: ReadSession) -> dict[str, Any]:
    """A job's state, per-pipeline progress, its event log, errors, files and configuration."""
    tree = service.get(session, job_id, who)
    job = render(tree)
    ids = [tree.parent.id, *(c.id for c in tree.children)]
    log = events.since(session, owner_id=tree.parent.owner_id, job_ids=ids, limit=500)
    names = {c.id: pipeline_of(c) for c in tree.children}
    running = [pipeline_of(c) for c in tree.children if c.status == "running"]
    started = [c.started_at for c in tree.children if c.started_at]
    outputs = queries.outputs_of(session, tree.children)
    return {
        "job": {
            "id": job.id,
            "status": job.status,
            "created_at": iso(tree.parent.created_at),
            "started_at": iso(min(started)) if started else None,
            "completed_at": iso(job.completed_at),
            "debug_info": {
                "current_pipeline": running[0] if running else None,
                "progress_percentage": progress_of(tree),
                "pipelines": {
                    pipeline_of(c): {"status": c.status, "progress": c.progress, "attempt": c.attempt}
                    for c in tree.children
                },
            },
            "pipeline_logs": [
                {
                    "timestamp": iso(e.created_at),
                    "level": "error" if e.type == "job.failed" else "info",
                    "pipeline": names.get(e.job_id or ""),
                    "message": e.type,
                }
                for e in log
            ],
            "errors": [
                {"pipeline": pipeline_of(c), **(c.error or {})} for c in tree.children if c.status == "failed"
            ],
            "files": {
                "input_video": job.video_path,
                "outputs": {names[cid]: a.filename for cid, a in outputs.items()},
            },
            "configuration": job.config,
            "selected_pipelines": job.selected_pipelines,
        }
    }


@router.get("/debug/request-log", tags=["debug"])
def get_request_log(
    request: Request,
    who: Debugger,
    limit: Annotated[int, Query(ge=1, le=100, description="Maximum number of requests to return")] = 50,
) -> dict[str, Any]:
    """The most recent requests (newest first) with timing and status."""
    log = log_of(request.app.state)
    shown = log.latest(limit)
    return {
        "requests": shown,
        "total_logged": len(log.entries),
        "showing": len(shown),
        "log_retention": f"Last {RETAINED} requests",
    }


@router.get("/debug/background-jobs", tags=["debug"])
def get_background_jobs_status(session: ReadSession, rt: Rt, request: Request) -> dict[str, Any]:
    """The workers processing jobs: running or not, active and queued jobs, concurrency."""
    section = probes.workers_section(session, rt, _viewer(rt, request))
    return {
        "background_processing": {
            "running": section["status"] == "running",
            "active_jobs": section["active_jobs"],
            "processing_jobs": section["processing_jobs"],
            "queued_jobs": section["queued_jobs"],
            "max_concurrent_workers": section["max_concurrent_workers"],
            "poll_interval_seconds": section["poll_interval_seconds"],
            "workers": section["workers"],
        },
        "timestamp": iso(utcnow()),
    }


def _viewer(rt: Runtime, request: Request) -> Principal | None:
    """Whoever a valid credential names, else nobody: these public routes never refuse a bad token."""
    try:
        return authenticate(rt, request)
    except Unauthorized:
        return None
