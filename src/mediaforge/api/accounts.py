"""Identity endpoints: sign-up, login sessions, API keys, guests, device login, worker pairing."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response, status

from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt, client_ip
from mediaforge.errors import BadRequest, Forbidden
from mediaforge.identity import service as identity
from mediaforge.identity.models import Account
from mediaforge.identity.schemas import (
    AccountView,
    Credentials,
    DeviceCode,
    DeviceDecision,
    DeviceStartView,
    DeviceTokenView,
    GuestView,
    KeyCreate,
    KeyView,
    KeyWithSecret,
    PairingView,
    PasswordChange,
    Signup,
    TokenView,
    WorkerPair,
)
from mediaforge.identity.secrets import hash_secret

__all__ = ["router"]

router = APIRouter(tags=["identity"])
Reader = Annotated[Principal, Caller("account:read")]
Writer = Annotated[Principal, Caller("account:write")]


@router.post("/v1/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountView)
def sign_up(body: Signup, request: Request, session: DbSession, rt: Rt) -> Account:
    """Create an account (when ``MEDIAFORGE_SIGNUP_OPEN``); log in with ``POST /v1/auth/login``."""
    if not rt.settings.signup_open:
        raise Forbidden("sign-up is closed on this server", code="signup_closed")
    ip = client_ip(request)
    rt.limiter.hit("auth.signup", ip)
    return identity.create_account(session, body.email, body.password, ip=ip)


@router.get("/v1/accounts/me", response_model=AccountView)
def me(session: ReadSession, who: Reader) -> AccountView:
    if not who.metered:
        return AccountView(id=who.account_id, email=None, role=who.role, tier=who.tier)
    return AccountView.model_validate(identity.find_account(session, account_id=who.account_id))


@router.post("/v1/accounts/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, session: DbSession, who: Writer) -> Response:
    """Set a new password; every other login session of the account ends."""
    account = identity.find_account(session, account_id=who.account_id)
    keep = who.credential_id if who.kind == "session" else None
    identity.change_password(session, account, body.current_password, body.new_password, keep=keep)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/v1/accounts/me", status_code=status.HTTP_204_NO_CONTENT)
def delete_me(session: DbSession, rt: Rt, who: Writer) -> Response:
    """Delete the account and everything it owns: jobs, workflows, assets and their files, keys."""
    identity.delete_account(session, rt.storage, identity.find_account(session, account_id=who.account_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- sessions ----------------------------------------------------------------------------------


@router.post("/v1/auth/login", response_model=TokenView)
def login(body: Credentials, request: Request, session: DbSession, rt: Rt) -> TokenView:
    """Trade email and password for a session token. Repeated failures are answered 429."""
    keys = (client_ip(request), body.email.strip().lower())
    for key in keys:
        rt.limiter.check("auth.login", key)
    try:
        account = identity.authenticate(session, body.email, body.password)
    except identity.InvalidCredentials:
        for key in keys:
            rt.limiter.hit("auth.login", key)
        raise
    issued = identity.issue(
        session, account, "session", name="login", ttl=timedelta(seconds=rt.settings.session_ttl_seconds)
    )
    return TokenView(
        token=issued.token,
        expires_at=issued.credential.expires_at,
        account=AccountView.model_validate(account),
    )


@router.post("/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: DbSession, who: Reader) -> Response:
    """End the presented session (or device / guest token) at once. API keys are revoked by id."""
    if who.kind not in {"session", "device", "guest"} or who.credential_id is None:
        raise BadRequest("only a session, device or guest token logs out", code="not_a_session")
    identity.revoke(identity.get_credential(session, who.credential_id, who.account_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/v1/auth/guest", status_code=status.HTTP_201_CREATED, response_model=GuestView)
def new_guest(request: Request, session: DbSession, rt: Rt) -> GuestView:
    """A guest account with the guest tier's daily credits; send the token as ``X-Session-Token``."""
    ip = client_ip(request)
    rt.limiter.hit("auth.guest", ip)
    account, issued = identity.guest(session, rt.settings, ip)
    return GuestView(token=issued.token, account_id=account.id, expires_at=issued.credential.expires_at)


# --- API keys ----------------------------------------------------------------------------------


@router.get("/v1/keys", response_model=list[KeyView])
def list_keys(session: ReadSession, who: Reader) -> list[KeyView]:
    return [KeyView.model_validate(c) for c in identity.list_credentials(session, who.sees)]


@router.post("/v1/keys", status_code=status.HTTP_201_CREATED, response_model=KeyWithSecret)
def create_key(body: KeyCreate, session: DbSession, who: Writer) -> KeyWithSecret:
    """A new API key, shown once. Its scopes cannot exceed the caller's own."""
    for scope in body.scopes:
        if (scope == "*" and "*" not in who.scopes) or not who.allows(scope):
            raise Forbidden(f"cannot grant the {scope!r} scope", code="insufficient_scope")
    account = identity.find_account(session, account_id=who.account_id)
    ttl = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = identity.issue(session, account, "api_key", name=body.name, scopes=body.scopes, ttl=ttl)
    return KeyWithSecret(**KeyView.model_validate(issued.credential).model_dump(), secret=issued.token)


@router.delete("/v1/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_key(key_id: str, session: DbSession, who: Writer) -> Response:
    """Revoke a key; it stops working with the next request."""
    identity.revoke(identity.get_credential(session, key_id, who.sees))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- device login (RFC 8628) -------------------------------------------------------------------


@router.post("/v1/auth/device", response_model=DeviceStartView)
def device_start(request: Request, session: DbSession, rt: Rt) -> DeviceStartView:
    """Start a device login: show ``user_code`` to the user, poll ``/v1/auth/device/token``."""
    ip = client_ip(request)
    rt.limiter.hit("auth.device", ip)
    started = identity.device_start(session, rt.settings, ip)
    uri = f"{rt.settings.public_url.rstrip('/')}/device"
    return DeviceStartView(
        device_code=started.device_code,
        user_code=started.user_code,
        verification_uri=uri,
        verification_uri_complete=f"{uri}?user_code={started.user_code}",
        expires_in=rt.settings.device_code_ttl_seconds,
        interval=rt.settings.device_poll_seconds,
    )


@router.post("/v1/auth/device/token", response_model=DeviceTokenView, response_model_exclude_none=True)
def device_token(body: DeviceCode, session: DbSession, rt: Rt) -> DeviceTokenView:
    """``pending`` until the user decides; ``approved`` carries the device token (once)."""
    rt.limiter.hit("auth.device.poll", hash_secret(body.device_code))
    state, issued = identity.device_poll(session, body.device_code)
    if issued is None:
        return DeviceTokenView(status=state, interval=rt.settings.device_poll_seconds)
    return DeviceTokenView(status=state, token=issued.token)


@router.post("/v1/auth/device/approve", response_model=DeviceTokenView, response_model_exclude_none=True)
def device_approve(
    body: DeviceDecision, request: Request, session: DbSession, rt: Rt, who: Writer
) -> DeviceTokenView:
    return _decide(body, request, session, rt, who, approve=True)


@router.post("/v1/auth/device/deny", response_model=DeviceTokenView, response_model_exclude_none=True)
def device_deny(
    body: DeviceDecision, request: Request, session: DbSession, rt: Rt, who: Writer
) -> DeviceTokenView:
    return _decide(body, request, session, rt, who, approve=False)


def _decide(
    body: DeviceDecision, request: Request, session: DbSession, rt: Rt, who: Principal, *, approve: bool
) -> DeviceTokenView:
    rt.limiter.hit("auth.device.decide", client_ip(request))
    account = identity.find_account(session, account_id=who.account_id)
    row = identity.device_decide(session, account, body.user_code, approve=approve)
    return DeviceTokenView(status=row.status)


# --- worker pairing ----------------------------------------------------------------------------


@router.post("/v1/workers/pairing-codes", status_code=status.HTTP_201_CREATED, response_model=PairingView)
def new_pairing_code(session: DbSession, rt: Rt, who: Writer) -> PairingView:
    """A one-shot code, valid 15 minutes, that lets one of your machines register as a worker."""
    account = identity.find_account(session, account_id=who.account_id)
    code, expires_at = identity.pairing_code(session, rt.settings, account)
    command = f"mediaforge worker --server {rt.settings.public_url.rstrip('/')} --pair {code}"
    return PairingView(code=code, expires_at=expires_at, install_command=command)


@router.post("/v1/workers/pair", status_code=status.HTTP_201_CREATED, response_model=TokenView)
def pair(body: WorkerPair, request: Request, session: DbSession, rt: Rt) -> TokenView:
    """Redeem a pairing code for a worker token (scope ``worker``)."""
    rt.limiter.hit("workers.pair", client_ip(request))
    issued = identity.pair_worker(session, body.code, body.name)
    account = identity.find_account(session, account_id=issued.credential.account_id)
    return TokenView(token=issued.token, expires_at=None, account=AccountView.model_validate(account))
