"""What the payment provider told us about an account's subscription."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mediaforge.clock import utcnow
from mediaforge.db.base import Base
from mediaforge.db.types import UTCDateTime

__all__ = ["BillingState"]


class BillingState(Base):
    """One row per account that ever reached the payment provider."""

    __tablename__ = "billing_states"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(32))
    """The provider's subscription status (``active``, ``past_due``, ``canceled``...)."""
    price_id: Mapped[str | None] = mapped_column(String(255))
    plan: Mapped[str | None] = mapped_column(String(32))
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
