"""Webhook tables: subscriptions, deliveries (one per event and target), attempts, the fan-out cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from mediaforge.clock import new_id, utcnow
from mediaforge.db.base import Base
from mediaforge.db.types import JSONType, UTCDateTime
from mediaforge.webhooks.states import DeliveryStatus, Transport

__all__ = ["Attempt", "Cursor", "Delivery", "Subscription", "new_message_id"]


def new_message_id() -> str:
    """A ``webhook-id``: ``msg_`` and a time-ordered UUID in hex (no ``.``, as the signature needs)."""
    return "msg_" + new_id().replace("-", "")


class Subscription(Base):
    """Where an owner wants events sent, which ones, and how the target has been answering."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(String(128))
    face: Mapped[str] = mapped_column(String(32), default="native", server_default="native")
    """The API face that made it: its deliveries carry that face's payload (``webhooks.payloads``)."""
    target_url: Mapped[str] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(16), default=Transport.HTTP.value)
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=lambda: ["*"])
    """Exact names (``job.completed``), prefixes (``job.*``) or ``*``."""
    job_ids: Mapped[list[str]] = mapped_column(JSONType, default=lambda: ["*"])
    """``["*"]`` or the job (or workflow) ids whose events are wanted."""
    secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    """``[{"secret", "created_at", "expires_at"}]``, newest first; every unexpired one signs."""
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_webhook_subscriptions_owner_created", "owner_id", "created_at"),)


class Delivery(Base):
    """One event on its way to one target; ``id`` is the ``webhook-id``, stable across retries."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_message_id)
    owner_id: Mapped[str] = mapped_column(String(128))
    subscription_id: Mapped[str | None] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    """None for a job's own ``webhook_url``."""
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    target_url: Mapped[str] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(16), default=Transport.HTTP.value)
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cycle_start: Mapped[int] = mapped_column(Integer, default=0)
    """``attempts`` when the current retry schedule began (a replay starts a new one)."""
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # The claim walks only rows that may be due: pending ones, and leased ones whose lease may
        # have expired (a claim sets next_attempt_at to the lease's end).
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'delivering')"),
            sqlite_where=text("status IN ('pending', 'delivering')"),
        ),
        # One delivery per (subscription, event): the fan-out never doubles one, replays reuse it.
        Index("ux_webhook_deliveries_subscription_event", "subscription_id", "event_id", unique=True),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at"),
    )


class Attempt(Base):
    """One try at a delivery: what came back and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_snippet: Mapped[str | None] = mapped_column(Text)
    """At most 500 characters of the response body."""
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cursor(Base):
    """How far a reader of the ``events`` outbox has got (``webhooks``: the fan-out)."""

    __tablename__ = "webhook_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
