"""Tinify's account side: config, usage, billing, the scheduler's endpoints, MCP device login, health."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session

from mediaforge import payments
from mediaforge.api.billing import Provider, receive_webhook
from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt, authenticate, client_ip
from mediaforge.clock import utcnow
from mediaforge.credits import ledger
from mediaforge.errors import Unauthorized
from mediaforge.faces.tinify import cleanup
from mediaforge.faces.tinify.envelope import tinify_router
from mediaforge.faces.tinify.images import INPUT_TYPES
from mediaforge.faces.tinify.internal import Internal
from mediaforge.faces.tinify.schemas import CheckoutRequest, OutputFormat
from mediaforge.faces.tinify.translate import OPERATION
from mediaforge.identity import service as identity
from mediaforge.identity.secrets import hash_secret
from mediaforge.scheduler import refresh_credits

__all__ = ["router"]

router = tinify_router(tags=["tinify"])
User = Annotated[Principal, Caller("credits:read")]
Billing = Annotated[Principal, Caller("billing:write")]
Approver = Annotated[Principal, Caller("account:write")]


# --- health --------------------------------------------------------------------------------------------


@router.get("/readiness")
def readiness(session: ReadSession, rt: Rt) -> JSONResponse:
    """200 when the database and storage answer, else 503."""
    try:
        session.execute(text("SELECT 1"))
        rt.storage.check()
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/")
def root() -> dict[str, Any]:
    return {"service": "mediaforge", "api": "Tinify.ai compatible", "docs": "/docs", "native": "/v1"}


# --- config and usage ----------------------------------------------------------------------------------


@router.get("/config")
def config(rt: Rt) -> dict[str, Any]:
    """Tier limits and the other public facts a client needs."""
    s = rt.settings
    return {
        "tiers": {
            **{
                tier: {"credits_per_day": n, "reset": "daily at 00:00 UTC"}
                for tier, n in s.credit_daily.items()
            },
            **{
                tier: {"credits_per_period": n, "reset": "each billing period"}
                for tier, n in s.credit_plans.items()
            },
        },
        "credit_costs": {"image": s.cost(OPERATION)},
        "limits": {
            "max_file_size": s.max_upload_bytes,
            "max_pixels": s.max_image_pixels,
            "max_dimension": 8192,
            "gif_frame_limit_max": 100,
            "upscale_factor": {"min": 0.1, "max": 10.0, "upscale_endpoint": [1.0, 4.0]},
        },
        "input_mime_types": sorted(INPUT_TYPES),
        "output_formats": [f.value for f in OutputFormat],
        "temp_file_ttl_seconds": s.tinify_temp_ttl_seconds,
        "job_ttl_seconds": s.tinify_job_ttl_seconds,
        "payments_enabled": s.payments_configured,
        "prices": {price: plan for price, plan in s.stripe_prices.items()},
    }


@router.get("/usage/history")
def usage_history(
    session: DbSession, who: User, days: Annotated[int, Query(ge=1, le=90)] = 30
) -> dict[str, Any]:
    """Jobs and credits per day over the last ``days`` (1-90)."""
    daily = ledger.usage_by_day(session, who.account_id, days)
    return {
        "days": days,
        "total_jobs": sum(int(d["operations"]) for d in daily),
        "total_credits_used": sum(int(d["credits_used"]) for d in daily),
        "daily": [
            {"date": d["date"], "jobs": d["operations"], "credits_used": d["credits_used"]} for d in daily
        ],
    }


@router.get("/usage/summary")
def usage_summary(session: DbSession, rt: Rt, who: User) -> dict[str, Any]:
    """Tier, credits and subscription."""
    return account_status(session, rt, who)


def account_status(session: Session, rt: Rt, who: Principal) -> dict[str, Any]:
    """What ``/usage/summary`` and ``/mcp/auth/status`` say about an account."""
    s = rt.settings
    email = None
    if who.metered and who.role != "guest":
        email = identity.find_account(session, account_id=who.account_id).email
    daily = s.credit_daily.get(who.tier)
    midnight = datetime.combine(utcnow().date() + timedelta(days=1), time(), tzinfo=utcnow().tzinfo)
    subscription = None
    if s.payments_configured and who.metered:
        state = payments.subscription(session, s, who.account_id)
        subscription = {
            "status": state.status,
            "plan": state.plan,
            "current_period_end": state.current_period_end,
        }
    return {
        "logged_in": who.role != "guest",
        "is_guest": who.role == "guest",
        "email": email,
        "tier": who.tier,
        "credits_remaining": ledger.current(session, s, who.account_id) if who.metered else None,
        "credits_limit": daily if daily is not None else s.credit_plans.get(who.tier),
        "credits_reset_at": midnight.isoformat() if daily is not None else None,
        "subscription": subscription,
    }


# --- billing -------------------------------------------------------------------------------------------


@router.post("/billing/checkout")
def checkout(
    body: CheckoutRequest, session: DbSession, rt: Rt, who: Billing, provider: Provider
) -> dict[str, str]:
    """A Stripe Checkout session; refused while a subscription is live (use the portal)."""
    url, session_id = payments.checkout(
        session,
        rt.settings,
        who.account_id,
        body.price_id,
        body.success_url,
        body.cancel_url,
        provider=provider,
    )
    return {"checkout_url": url, "session_id": session_id}


@router.post("/billing/portal")
def portal(session: DbSession, rt: Rt, who: Billing, provider: Provider) -> dict[str, str]:
    return {"portal_url": payments.portal(session, rt.settings, who.account_id, provider=provider)}


@router.get("/billing/subscription")
def subscription(
    session: ReadSession, rt: Rt, who: Annotated[Principal, Caller("billing:read")]
) -> dict[str, Any]:
    state = payments.subscription(session, rt.settings, who.account_id)
    return {
        "status": state.status,
        "plan": state.plan,
        "tier": who.tier,
        "price_id": state.price_id,
        "current_period_end": state.current_period_end,
    }


@router.post("/webhooks/stripe")
async def stripe_webhook(
    request: Request, rt: Rt, provider: Provider, stripe_signature: Annotated[str | None, Header()] = None
) -> dict[str, bool]:
    """Stripe's events, verified against the raw body."""
    return {"received": True, "handled": await receive_webhook(request, rt, provider, stripe_signature)}


# --- the scheduler's endpoints (the built-in scheduler runs the same functions) ------------------------


@router.post("/internal/cleanup", dependencies=[Internal])
def internal_cleanup(rt: Rt) -> dict[str, Any]:
    """Delete expired Tinify jobs with their original and processed files."""
    return cleanup.expired_jobs(rt)


@router.post("/internal/refresh-daily-credits", dependencies=[Internal])
def internal_refresh(rt: Rt) -> dict[str, Any]:
    """Reset guests and free accounts to their daily credits (idempotent within a UTC day)."""
    return {"success": True, "refreshed": refresh_credits(rt, utcnow().date())}


# --- MCP device login ----------------------------------------------------------------------------------


@router.post("/mcp/auth/device-code")
def device_code(request: Request, session: DbSession, rt: Rt) -> dict[str, Any]:
    """Start an MCP login (10/hour per IP): show ``user_code`` at ``verify_url``."""
    rt.limiter.hit("auth.device", client_ip(request))
    started = identity.device_start(session, rt.settings, client_ip(request))
    verify = f"{rt.settings.public_url.rstrip('/')}/device"
    return {
        "device_code": started.device_code,
        "user_code": started.user_code,
        "verify_url": verify,
        "verification_uri": verify,
        "verification_uri_complete": f"{verify}?code={started.user_code}",
        "expires_in": rt.settings.device_code_ttl_seconds,
        "interval": rt.settings.device_poll_seconds,
    }


@router.get("/mcp/auth/token")
def device_token(device_code: str, session: DbSession, rt: Rt) -> dict[str, Any]:
    """Poll (20/minute per device code): pending, approved (with ``mcp_token``, once), denied, expired."""
    rt.limiter.hit("auth.device.poll", hash_secret(device_code))
    state, issued = identity.device_poll(session, device_code)
    if issued is None:
        return {"status": state}
    account = identity.find_account(session, account_id=issued.credential.account_id)
    who = identity.principal(issued.credential, account)
    return {"status": state, "mcp_token": issued.token, "user": account_status(session, rt, who)}


@router.post("/mcp/auth/approve")
def approve(
    body: dict[str, Any], request: Request, session: DbSession, rt: Rt, who: Approver
) -> dict[str, Any]:
    """The logged-in user approves the device showing ``user_code`` (10/hour per IP)."""
    return _decide(body, request, session, rt, who, approve=True)


@router.post("/mcp/auth/deny")
def deny(body: dict[str, Any], request: Request, session: DbSession, rt: Rt, who: Approver) -> dict[str, Any]:
    return _decide(body, request, session, rt, who, approve=False)


def _decide(
    body: dict[str, Any], request: Request, session: Session, rt: Rt, who: Principal, *, approve: bool
) -> dict[str, Any]:
    rt.limiter.hit("auth.device.decide", client_ip(request))
    user_code = str(body.get("user_code") or body.get("code") or "")
    account = identity.find_account(session, account_id=who.account_id)
    row = identity.device_decide(session, account, user_code, approve=approve)
    return {"success": True, "status": row.status}


@router.post("/mcp/auth/revoke")
def revoke(session: DbSession, rt: Rt, request: Request) -> dict[str, bool]:
    """Log the MCP token in ``Authorization`` out."""
    who = authenticate(rt, request)
    if who is None or who.credential_id is None:
        raise Unauthorized("Not authenticated")
    identity.revoke(identity.get_credential(session, who.credential_id, who.account_id))
    return {"success": True}


@router.get("/mcp/auth/status")
def status(session: DbSession, rt: Rt, request: Request) -> dict[str, Any]:
    """The account behind the MCP token or guest session token; ``logged_in: false`` without one."""
    who = authenticate(rt, request)
    if who is None:
        return {"logged_in": False, "is_guest": False}
    return account_status(session, rt, who)


# --- CORS preflight: the contract lists these OPTIONS operations; CORSMiddleware adds the headers ------


def preflight() -> dict[str, str]:
    """Handle CORS preflight requests."""
    return {}


for _path in (
    "/upload",
    "/status/stream",
    "/status/{job_id}/stream",
    "/status/{job_id}",
    "/status",
    "/download/{job_id}",
    "/download/{job_id}/url",
    "/process",
    "/internal/cleanup",
):
    router.add_api_route(_path, preflight, methods=["OPTIONS"])
