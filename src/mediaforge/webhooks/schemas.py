"""The public shapes of subscriptions, deliveries and attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mediaforge.webhooks import signing
from mediaforge.webhooks.policy import valid_event_pattern
from mediaforge.webhooks.states import DeliveryStatus, Transport

__all__ = [
    "AttemptView",
    "DeliveryPage",
    "DeliveryView",
    "JobSecret",
    "ReplayRange",
    "ReplayResult",
    "SecretRotation",
    "SubscriptionCreate",
    "SubscriptionPage",
    "SubscriptionUpdate",
    "SubscriptionView",
    "SubscriptionWithSecret",
]

_EVENTS_HELP = "Exact types (job.completed), prefixes (job.*) or *."
_JOBS_HELP = '["*"] for every job, or the job (or workflow) ids whose events are wanted.'


def _patterns(value: list[str]) -> list[str]:
    bad = [p for p in value if not valid_event_pattern(p)]
    if bad:
        raise ValueError(f"invalid event type patterns {bad}; use job.completed, job.* or *")
    return value


def _secret(value: str | None) -> str | None:
    if value is not None:
        signing.decode_secret(value, strict=True)
        if not value.startswith(signing.PREFIX):
            value = signing.PREFIX + value
    return value


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError("give a timezone (e.g. 2030-01-01T00:00:00Z)")
    return value


class SubscriptionCreate(BaseModel):
    """A new subscription: where to send which events, for how long."""

    model_config = ConfigDict(extra="forbid")

    target_url: str = Field(..., min_length=1, max_length=2048, description="http(s):// or ws(s)://")
    transport: Transport = Transport.HTTP
    event_types: list[str] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=100, description=_EVENTS_HELP
    )
    job_ids: list[str] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=1000, description=_JOBS_HELP
    )
    secret: str | None = Field(None, description="whsec_<base64 of 24-64 bytes>; generated when absent.")
    description: str | None = Field(None, max_length=1000)
    is_active: bool = True
    ttl_seconds: float | None = Field(None, gt=0, description="Stop delivering this long after creation.")
    expires_at: datetime | None = Field(None, description="Stop delivering at this time.")

    @field_validator("event_types")
    @classmethod
    def _check_patterns(cls, value: list[str]) -> list[str]:
        return _patterns(value)

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        return _secret(value)

    @field_validator("expires_at")
    @classmethod
    def _check_expiry(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @model_validator(mode="after")
    def _one_expiry(self) -> SubscriptionCreate:
        if self.ttl_seconds is not None and self.expires_at is not None:
            raise ValueError("give ttl_seconds or expires_at, not both")
        return self


class SubscriptionUpdate(BaseModel):
    """A partial change; fields left out stay as they are, ``expires_at: null`` removes the expiry.

    Setting ``is_active`` to true re-enables a disabled subscription and clears its failure count.
    """

    model_config = ConfigDict(extra="forbid")

    target_url: str | None = Field(None, min_length=1, max_length=2048)
    transport: Transport | None = None
    event_types: list[str] | None = Field(None, min_length=1, max_length=100, description=_EVENTS_HELP)
    job_ids: list[str] | None = Field(None, min_length=1, max_length=1000, description=_JOBS_HELP)
    description: str | None = Field(None, max_length=1000)
    is_active: bool | None = None
    ttl_seconds: float | None = Field(None, gt=0, description="Expire this long from now.")
    expires_at: datetime | None = None

    @field_validator("event_types")
    @classmethod
    def _check_patterns(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _patterns(value)

    @field_validator("expires_at")
    @classmethod
    def _check_expiry(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @model_validator(mode="after")
    def _one_expiry(self) -> SubscriptionUpdate:
        if self.ttl_seconds is not None and self.expires_at is not None:
            raise ValueError("give ttl_seconds or expires_at, not both")
        return self


class SecretRotation(BaseModel):
    """A new signing secret; the previous one keeps signing for ``previous_expires_in_seconds``."""

    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(None, description="whsec_...; generated when absent.")
    previous_expires_in_seconds: float = Field(
        24 * 3600, ge=0, le=30 * 24 * 3600, description="0 stops signing with the old secret at once."
    )

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        return _secret(value)


class SubscriptionView(BaseModel):
    """A subscription as its owner sees it (secrets are shown only at creation and rotation)."""

    id: str
    target_url: str
    transport: Transport
    event_types: list[str]
    job_ids: list[str]
    description: str | None
    is_active: bool
    status: Literal["active", "disabled", "expired"]
    disabled_reason: str | None
    consecutive_failures: int
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionView):
    """The answer to creation and rotation: the only times the secret is shown."""

    secret: str


class SubscriptionPage(BaseModel):
    """One page of subscriptions, newest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[SubscriptionView]
    next_cursor: str | None


class AttemptView(BaseModel):
    """One try: the answer's status, how long it took, and the start of its body."""

    attempt: int
    status_code: int | None
    latency_ms: int | None
    response_snippet: str | None
    error: str | None
    at: datetime


class DeliveryView(BaseModel):
    """One event on its way to one target; ``id`` is the ``webhook-id`` header, stable across retries."""

    id: str
    subscription_id: str | None
    job_id: str | None
    event_id: int
    event_type: str
    target_url: str
    transport: Transport
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="Set while pending.")
    last_status_code: int | None
    last_error: str | None
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    attempt_log: list[AttemptView] | None = Field(
        None, description="Every attempt, oldest first (detail only)."
    )


class DeliveryPage(BaseModel):
    """One page of deliveries, newest first; pass ``next_cursor`` back as ``cursor``."""

    items: list[DeliveryView]
    next_cursor: str | None


class ReplayRange(BaseModel):
    """Send a subscription's events again, by event id range, time range or both (bounds inclusive)."""

    model_config = ConfigDict(extra="forbid")

    from_event_id: int | None = Field(None, ge=0)
    to_event_id: int | None = Field(None, ge=0)
    since: datetime | None = None
    until: datetime | None = None
    only_failed: bool = Field(False, description="Skip events already delivered successfully.")

    @field_validator("since", "until")
    @classmethod
    def _check_times(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @model_validator(mode="after")
    def _bounded(self) -> ReplayRange:
        if self.from_event_id is None and self.since is None:
            raise ValueError("give from_event_id or since")
        return self


class ReplayResult(BaseModel):
    """What a range replay did; when ``more`` is true, replay again from ``last_event_id + 1``."""

    requeued: int = Field(description="Existing deliveries sent again under their own webhook-id.")
    created: int = Field(description="New deliveries for matching events this subscription never had.")
    last_event_id: int | None
    more: bool


class JobSecret(BaseModel):
    """The secret that signs deliveries to jobs' own ``webhook_url`` for this owner."""

    secret: str
