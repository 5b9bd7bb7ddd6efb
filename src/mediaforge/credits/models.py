"""The credit ledger: append-only entries whose sum is the balance."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mediaforge.clock import new_id, utcnow
from mediaforge.db.base import Base
from mediaforge.db.types import UTCDateTime

__all__ = ["CreditEntry"]


class CreditEntry(Base):
    """One movement of credits. Rows are only ever inserted (and removed with their account)."""

    __tablename__ = "credit_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    """``grant`` | ``charge`` | ``refund`` | ``reset`` (a daily tier's top-up to its allowance)."""
    amount: Mapped[int] = mapped_column(Integer)
    """Signed: charges are negative."""
    job_id: Mapped[str | None] = mapped_column(String(36))
    operation: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    period: Mapped[str | None] = mapped_column(String(32))
    """For resets and plan grants: the period they cover (``2026-11-23``, an invoice id), once each."""
    day: Mapped[date] = mapped_column(Date)
    """UTC day of ``created_at``, kept for usage by day on any database."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_credit_entries_account_day", "account_id", "day"),
        UniqueConstraint("account_id", "period", name="uq_credit_entries_period"),
        UniqueConstraint("job_id", "kind", name="uq_credit_entries_job_kind"),
    )
