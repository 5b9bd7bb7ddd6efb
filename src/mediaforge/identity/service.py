"""Accounts, credentials and one-shot codes: every rule about who may act for whom lives here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediaforge.assets.models import Asset
from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.errors import BadRequest, Conflict, NotFound, Unauthorized, ValidationFailed
from mediaforge.events.models import Event
from mediaforge.identity.models import Account, AuthCode, Credential
from mediaforge.identity.principal import GUEST_SCOPES, WORKER_SCOPES, Principal, check_scopes
from mediaforge.identity.secrets import (
    hash_password,
    hash_secret,
    matches,
    new_code,
    new_token,
    new_user_code,
    parse_prefix,
    password_needs_rehash,
    verify_password,
)
from mediaforge.jobs.models import Job
from mediaforge.storage.base import Storage
from mediaforge.webhooks.models import Delivery, Subscription
from mediaforge.workflows.models import Workflow

__all__ = [
    "Issued",
    "authenticate",
    "change_password",
    "create_account",
    "delete_account",
    "device_decide",
    "device_poll",
    "device_start",
    "find_account",
    "guest",
    "issue",
    "list_credentials",
    "pair_worker",
    "pairing_code",
    "principal",
    "resolve",
    "revoke",
]

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_LAST_USED_RESOLUTION = timedelta(minutes=1)
# Owned data, children before parents; assets last so their blobs are known.
_OWNED = (Event, Delivery, Subscription, Job, Workflow)


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class EmailTaken(Conflict):
    code = "email_taken"


class AccountNotFound(NotFound):
    code = "account_not_found"


@dataclass(frozen=True)
class Issued:
    """A new credential and its secret, which is shown this once and never stored."""

    credential: Credential
    token: str


# --- accounts ----------------------------------------------------------------------------------


def create_account(
    session: Session,
    email: str,
    password: str | None,
    *,
    role: str = "user",
    tier: str = "free",
    ip: str | None = None,
) -> Account:
    email = _valid_email(email)
    if password is not None:
        _check_password(password)
    account = Account(
        email=email,
        password_hash=hash_password(password) if password is not None else None,
        role=role,
        tier=tier,
        created_ip=ip,
    )
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        raise EmailTaken(f"an account with email {email} already exists") from None
    return account


def find_account(session: Session, *, account_id: str | None = None, email: str | None = None) -> Account:
    query = select(Account)
    query = (
        query.where(Account.id == account_id)
        if account_id
        else query.where(Account.email == (email or "").lower())
    )
    account = session.scalars(query).first()
    if account is None:
        raise AccountNotFound(f"account {account_id or email} not found")
    return account


def authenticate(session: Session, email: str, password: str) -> Account:
    """The account these credentials open; the same work (one argon2 verify) whether or not it exists."""
    account = session.scalars(select(Account).where(Account.email == email.strip().lower())).first()
    if not verify_password(password, account.password_hash if account else None) or account is None:
        raise InvalidCredentials("invalid email or password")
    assert account.password_hash is not None
    if password_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def change_password(session: Session, account: Account, current: str, new: str, *, keep: str | None) -> None:
    """Set a new password and end every other login session (``keep`` is the caller's own)."""
    if not verify_password(current, account.password_hash):
        raise InvalidCredentials("the current password is wrong")
    _check_password(new)
    account.password_hash = hash_password(new)
    query = update(Credential).where(
        Credential.account_id == account.id, Credential.kind == "session", Credential.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(Credential.id != keep)
    session.execute(query.values(revoked_at=utcnow()))


def delete_account(session: Session, storage: Storage, account: Account) -> None:
    """Remove the account and everything it owns: rows now, blobs once the rows are gone."""
    blobs = list(session.scalars(select(Asset.storage_key).where(Asset.owner_id == account.id)))
    for model in _OWNED:
        session.execute(delete(model).where(model.owner_id == account.id))
    session.execute(delete(Asset).where(Asset.owner_id == account.id))
    session.delete(account)  # credentials, codes, ledger and billing go by ON DELETE CASCADE
    session.flush()
    for key in blobs:
        storage.delete(key)


def _valid_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise ValidationFailed(f"{email!r} is not an email address", code="invalid_email")
    return email


def _check_password(password: str) -> None:
    if not 8 <= len(password) <= 1024:
        raise ValidationFailed("a password has 8 to 1024 characters", code="weak_password")


# --- credentials -------------------------------------------------------------------------------


def issue(
    session: Session,
    account: Account,
    kind: str,
    *,
    name: str | None = None,
    scopes: list[str] | None = None,
    ttl: timedelta | None = None,
) -> Issued:
    token, prefix = new_token(kind)
    credential = Credential(
        account_id=account.id,
        kind=kind,
        prefix=prefix,
        secret_hash=hash_secret(token),
        name=name,
        scopes=check_scopes(scopes) if scopes is not None else ["*"],
        expires_at=utcnow() + ttl if ttl else None,
    )
    session.add(credential)
    session.flush()
    return Issued(credential, token)


def resolve(
    session: Session, token: str, *, now: datetime | None = None
) -> tuple[Credential, Account] | None:
    """The live credential and account this token proves, or None (unknown, wrong, revoked, expired)."""
    prefix = parse_prefix(token)
    if prefix is None:
        return None
    row = session.execute(
        select(Credential, Account)
        .join(Account, Account.id == Credential.account_id)
        .where(Credential.prefix == prefix)
    ).first()
    if row is None:
        return None
    credential, account = row
    now = now or utcnow()
    if not matches(token, credential.secret_hash) or credential.revoked_at is not None:
        return None
    if credential.expires_at is not None and credential.expires_at <= now:
        return None
    return credential, account


def principal(credential: Credential, account: Account) -> Principal:
    return Principal(
        account_id=account.id,
        role=account.role,
        tier=account.tier,
        kind=credential.kind,
        scopes=frozenset(credential.scopes),
        credential_id=credential.id,
    )


def touch(session: Session, credential_id: str, now: datetime) -> None:
    """Record use, at most once a minute per credential (a write per request would cost too much)."""
    session.execute(
        update(Credential)
        .where(Credential.id == credential_id)
        .where((Credential.last_used_at.is_(None)) | (Credential.last_used_at < now - _LAST_USED_RESOLUTION))
        .values(last_used_at=now)
    )


def needs_touch(credential: Credential, now: datetime) -> bool:
    return credential.last_used_at is None or credential.last_used_at < now - _LAST_USED_RESOLUTION


def list_credentials(session: Session, account_id: str | None, kind: str = "api_key") -> list[Credential]:
    query = select(Credential).where(Credential.kind == kind).order_by(Credential.created_at.desc())
    if account_id is not None:
        query = query.where(Credential.account_id == account_id)
    return list(session.scalars(query))


def get_credential(session: Session, credential_id: str, account_id: str | None) -> Credential:
    query = select(Credential).where(Credential.id == credential_id)
    if account_id is not None:
        query = query.where(Credential.account_id == account_id)
    credential = session.scalars(query).first()
    if credential is None:
        raise NotFound(f"credential {credential_id} not found", code="credential_not_found")
    return credential


def revoke(credential: Credential) -> None:
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()


def guest(session: Session, settings: Settings, ip: str | None) -> tuple[Account, Issued]:
    """A new guest account and the ``X-Session-Token`` that acts for it."""
    account = Account(email=None, role="guest", tier="guest", created_ip=ip)
    session.add(account)
    session.flush()
    issued = issue(
        session,
        account,
        "guest",
        scopes=sorted(GUEST_SCOPES),
        ttl=timedelta(seconds=settings.guest_ttl_seconds),
    )
    return account, issued


# --- one-shot codes: device login (RFC 8628) and worker pairing --------------------------------


@dataclass(frozen=True)
class DeviceStart:
    device_code: str
    user_code: str
    expires_at: datetime


def device_start(session: Session, settings: Settings, ip: str | None) -> DeviceStart:
    device_code = new_code()
    for _ in range(5):  # a user_code collision among live codes is rare; try again
        user_code = new_user_code()
        row = AuthCode(
            kind="device",
            code_hash=hash_secret(device_code),
            user_code=user_code,
            client_ip=ip,
            expires_at=utcnow() + timedelta(seconds=settings.device_code_ttl_seconds),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            continue
        return DeviceStart(device_code, user_code, row.expires_at)
    raise Conflict("could not allocate a user code; try again")


def device_decide(session: Session, account: Account, user_code: str, *, approve: bool) -> AuthCode:
    """A logged-in user approves or denies the device showing ``user_code``."""
    normalized = user_code.strip().upper().replace(" ", "")
    if len(normalized) == 8:
        normalized = normalized[:4] + "-" + normalized[4:]
    row = session.scalars(
        select(AuthCode).where(AuthCode.kind == "device", AuthCode.user_code == normalized).with_for_update()
    ).first()
    if row is None or row.expires_at <= utcnow():
        raise NotFound("unknown or expired user code", code="invalid_user_code")
    if row.status != "pending":
        raise Conflict(f"this code was already {row.status}", code="code_already_used")
    row.status = "approved" if approve else "denied"
    row.account_id = account.id
    row.resolved_at = utcnow()
    return row


def device_poll(session: Session, device_code: str) -> tuple[str, Issued | None]:
    """``(status, credential)``: pending / approved (with a new device token, once) / denied / expired."""
    row = session.scalars(
        select(AuthCode)
        .where(AuthCode.kind == "device", AuthCode.code_hash == hash_secret(device_code))
        .with_for_update()
    ).first()
    if row is None:
        raise BadRequest("unknown device_code", code="invalid_device_code")
    if row.status == "redeemed" or (row.status == "pending" and row.expires_at <= utcnow()):
        return "expired", None
    if row.status != "approved":
        return row.status, None
    row.status = "redeemed"
    account = session.get(Account, row.account_id)
    assert account is not None
    return "approved", issue(session, account, "device", name="device login")


def pairing_code(session: Session, settings: Settings, account: Account) -> tuple[str, datetime]:
    """A one-shot code, valid ``pairing_code_ttl_seconds``, that a worker trades for its token."""
    code = new_code()
    row = AuthCode(
        kind="pairing",
        code_hash=hash_secret(code),
        status="approved",
        account_id=account.id,
        expires_at=utcnow() + timedelta(seconds=settings.pairing_code_ttl_seconds),
    )
    session.add(row)
    session.flush()
    return code, row.expires_at


def pair_worker(session: Session, code: str, name: str | None) -> Issued:
    row = session.scalars(
        select(AuthCode)
        .where(AuthCode.kind == "pairing", AuthCode.code_hash == hash_secret(code))
        .with_for_update()
    ).first()
    if row is None or row.status != "approved" or row.expires_at <= utcnow():
        raise InvalidCredentials("unknown, used or expired pairing code", code="invalid_pairing_code")
    row.status = "redeemed"
    row.resolved_at = utcnow()
    account = session.get(Account, row.account_id)
    assert account is not None
    return issue(session, account, "worker", name=name or "worker", scopes=sorted(WORKER_SCOPES))
