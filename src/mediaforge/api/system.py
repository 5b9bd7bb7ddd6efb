"""Processors, liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from mediaforge import __version__
from mediaforge.api.deps import Caller, Principal, ReadSession, Rt
from mediaforge.clock import utcnow
from mediaforge.metrics import REGISTRY, refresh_gauges
from mediaforge.workers import repository as workers

router = APIRouter(tags=["system"])


class ProcessorView(BaseModel):
    """A processor and whether this installation can run it."""

    name: str
    description: str
    capabilities: list[str]
    available: bool
    reason: str | None
    install_hint: str | None
    params_schema: dict[str, Any]


@router.get("/v1/processors", response_model=list[ProcessorView])
def list_processors(rt: Rt, who: Annotated[Principal, Caller()]) -> list[ProcessorView]:
    """Every processor, and whether this server can run it (with the install hint when not)."""
    out = []
    for p in rt.registry:
        a = p.availability()
        out.append(
            ProcessorView(
                name=p.name,
                description=p.description,
                capabilities=sorted(p.capabilities),
                available=a.available,
                reason=a.reason,
                install_hint=a.hint,
                params_schema=p.params.model_json_schema(),
            )
        )
    return out


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers (``version`` and a UTC ``timestamp`` as VideoAnnotator clients read)."""
    return {"status": "ok", "version": __version__, "timestamp": utcnow().isoformat().replace("+00:00", "Z")}


@router.get("/ready")
def ready(session: ReadSession, rt: Rt) -> JSONResponse:
    """Readiness: the database and storage answer, and a worker is alive."""
    checks: dict[str, Any] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc}"
    try:
        rt.storage.check()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {exc}"
    live = workers.live(session) if checks["database"] == "ok" else []
    checks["workers"] = len(live)
    ok = checks["database"] == "ok" and checks["storage"] == "ok" and bool(live)
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/metrics", include_in_schema=False)
def metrics(session: ReadSession) -> Response:
    refresh_gauges(session)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
