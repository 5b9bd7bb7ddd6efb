"""Identity tables: accounts, the credentials that act for them, and short codes that become credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mediaforge.clock import new_id, utcnow
from mediaforge.db.base import Base
from mediaforge.db.types import JSONType, UTCDateTime

__all__ = ["Account", "AuthCode", "Credential"]


class Account(Base):
    """Someone who owns data and credits: a person, an admin, or a guest (no email)."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    """Lower-cased; None for guests."""
    password_hash: Mapped[str | None] = mapped_column(Text)
    """argon2id; None for guests and accounts that only use keys."""
    role: Mapped[str] = mapped_column(String(16), default="user")
    """``user`` | ``admin`` | ``guest``."""
    tier: Mapped[str] = mapped_column(String(32), default="free")
    """Names a row of the credit tiers in config (``guest``, ``free``, or a paid plan)."""
    created_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Credential(Base):
    """A bearer secret acting for an account: an API key, a login session, a device, guest or worker token.

    The secret itself is never stored: ``prefix`` finds the row, ``secret_hash`` (SHA-256 of the
    whole token, which carries 192 random bits) proves it.
    """

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    """``api_key`` | ``session`` | ``device`` | ``guest`` | ``worker``."""
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=lambda: ["*"])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthCode(Base):
    """A short-lived code that is redeemed once for a credential.

    ``device`` codes (RFC 8628) start ``pending`` until a logged-in user approves or denies them by
    their ``user_code``; ``pairing`` codes are minted already approved by the user who wants a worker.
    """

    __tablename__ = "auth_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending`` | ``approved`` | ``denied`` | ``redeemed``."""
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_auth_codes_expires", "expires_at"),)
