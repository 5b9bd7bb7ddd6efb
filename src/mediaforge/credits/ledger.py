"""The credit rules: balances derived from the ledger, charges that never overdraw, refunds, daily resets.

Every write first locks the account row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers are
already serialised by ``BEGIN IMMEDIATE``), so two concurrent charges see each other's entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.credits.models import CreditEntry
from mediaforge.errors import MediaforgeError, PaymentRequired
from mediaforge.identity.models import Account
from mediaforge.identity.principal import Principal

__all__ = [
    "Charge",
    "InsufficientCredits",
    "balance",
    "charge",
    "charge_for",
    "current",
    "grant",
    "refresh_daily",
    "refund_job",
    "usage_by_day",
]


class InsufficientCredits(PaymentRequired):
    code = "insufficient_credits"


@dataclass(frozen=True)
class Charge:
    amount: int
    operation: str
    job_id: str | None = None


def balance(session: Session, account_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(CreditEntry.amount), 0)).where(CreditEntry.account_id == account_id)
    )
    return int(total or 0)


def current(session: Session, settings: Settings, account_id: str, *, now: datetime | None = None) -> int:
    """The balance after today's reset for a daily tier (applied now if the scheduler has not yet)."""
    account = _locked(session, account_id)
    _ensure_reset(session, settings, account, (now or utcnow()).date())
    return balance(session, account_id)


def charge(session: Session, settings: Settings, account_id: str, charges: Sequence[Charge]) -> int:
    """Debit every charge or none (402 when the balance is short); returns the balance left."""
    total = sum(c.amount for c in charges)
    available = current(session, settings, account_id)
    if total > available:
        raise InsufficientCredits(
            f"this needs {total} credits and {available} remain",
            details={"required": total, "available": available},
        )
    for c in charges:
        if c.amount:
            _append(session, account_id, "charge", -c.amount, job_id=c.job_id, operation=c.operation)
    return available - total


def charge_for(
    session: Session, settings: Settings, who: Principal, jobs: Sequence[tuple[str, str]]
) -> int | None:
    """Charge ``who`` for new ``(job_id, operation)`` pairs at the configured costs.

    Returns the balance left, or None when nothing was charged (free operations, or the auth-off
    local developer).
    """
    charges = [Charge(settings.cost(op), op, job_id) for job_id, op in jobs if settings.cost(op)]
    if not charges or not who.metered:
        return None
    return charge(session, settings, who.account_id, charges)


def grant(
    session: Session,
    settings: Settings,
    account_id: str,
    amount: int,
    *,
    reason: str,
    period: str | None = None,
) -> CreditEntry | None:
    """Add credits; with ``period`` at most once per account and period (None when already given).

    Today's reset of a daily tier is settled first, or it would wipe the grant on its next read.
    """
    _ensure_reset(session, settings, _locked(session, account_id), utcnow().date())
    if period is not None and _has_period(session, account_id, period):
        return None
    return _append(session, account_id, "grant", amount, reason=reason, period=period)


def refund_job(session: Session, job_id: str, reason: str) -> CreditEntry | None:
    """Give back what ``job_id`` was charged (once); None when it was not charged."""
    charged = session.scalars(
        select(CreditEntry).where(CreditEntry.job_id == job_id, CreditEntry.kind == "charge")
    ).first()
    if charged is None:
        return None
    _locked(session, charged.account_id)
    already = session.scalar(
        select(CreditEntry.id).where(CreditEntry.job_id == job_id, CreditEntry.kind == "refund")
    )
    if already is not None:
        return None
    return _append(
        session,
        charged.account_id,
        "refund",
        -charged.amount,
        job_id=job_id,
        operation=charged.operation,
        reason=reason,
    )


def refresh_daily(session: Session, settings: Settings, today: date, *, batch: int = 500) -> int:
    """Reset every daily-tier account to its allowance for ``today``; returns how many were reset."""
    reset = 0
    after = ""
    while True:
        ids = list(
            session.scalars(
                select(Account.id)
                .where(Account.tier.in_(list(settings.credit_daily)), Account.id > after)
                .order_by(Account.id)
                .limit(batch)
            )
        )
        for account_id in ids:
            reset += _ensure_reset(session, settings, _locked(session, account_id), today)
        if len(ids) < batch:
            return reset
        after = ids[-1]
        session.commit()  # keep row locks short: one batch per transaction


def usage_by_day(
    session: Session, account_id: str, days: int, *, today: date | None = None
) -> list[dict[str, int | str]]:
    """Per UTC day over the last ``days``: operations charged, credits charged, refunded and net."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    charged = func.sum(case((CreditEntry.kind == "charge", -CreditEntry.amount), else_=0))
    refunded = func.sum(case((CreditEntry.kind == "refund", CreditEntry.amount), else_=0))
    operations = func.sum(case((CreditEntry.kind == "charge", 1), else_=0))
    rows = session.execute(
        select(CreditEntry.day, operations, charged, refunded)
        .where(CreditEntry.account_id == account_id, CreditEntry.day >= first)
        .group_by(CreditEntry.day)
    ).all()
    by_day = {row[0]: row for row in rows}
    out: list[dict[str, int | str]] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        _, ops, spent, back = by_day.get(day, (day, 0, 0, 0))
        out.append(
            {
                "date": day.isoformat(),
                "operations": int(ops or 0),
                "credits_charged": int(spent or 0),
                "credits_refunded": int(back or 0),
                "credits_used": int(spent or 0) - int(back or 0),
            }
        )
    return out


def _locked(session: Session, account_id: str) -> Account:
    account = session.scalars(select(Account).where(Account.id == account_id).with_for_update()).first()
    if account is None:
        raise MediaforgeError(f"account {account_id} does not exist")
    return account


def _ensure_reset(session: Session, settings: Settings, account: Account, today: date) -> int:
    """For a daily tier, set the balance to the allowance once per UTC day (no rollover)."""
    allowance = settings.credit_daily.get(account.tier)
    period = f"daily:{today.isoformat()}"
    if allowance is None or _has_period(session, account.id, period):
        return 0
    _append(
        session,
        account.id,
        "reset",
        allowance - balance(session, account.id),
        period=period,
        reason=f"daily allowance of the {account.tier} tier",
    )
    return 1


def _has_period(session: Session, account_id: str, period: str) -> bool:
    return (
        session.scalar(
            select(CreditEntry.id).where(CreditEntry.account_id == account_id, CreditEntry.period == period)
        )
        is not None
    )


def _append(session: Session, account_id: str, kind: str, amount: int, **values: str | None) -> CreditEntry:
    now = utcnow()
    entry = CreditEntry(
        account_id=account_id, kind=kind, amount=amount, day=now.date(), created_at=now, **values
    )
    session.add(entry)
    session.flush()
    return entry
