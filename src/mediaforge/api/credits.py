"""Credits: the balance, usage by day, the ledger; admins grant credits and set tiers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from mediaforge.api.deps import Caller, DbSession, Principal, Rt
from mediaforge.credits import ledger
from mediaforge.credits.models import CreditEntry
from mediaforge.identity import service as identity
from mediaforge.identity.schemas import AccountView

__all__ = ["router"]

router = APIRouter(tags=["credits"])
Reader = Annotated[Principal, Caller("credits:read")]
Admin = Annotated[Principal, Caller("admin")]


class Balance(BaseModel):
    account_id: str
    tier: str
    balance: int | None
    """None when credits are not metered (auth turned off for local development)."""
    daily_allowance: int | None
    """Guests and free accounts are reset to this every day at midnight UTC."""
    costs: dict[str, int]
    default_cost: int


class UsageDay(BaseModel):
    date: str
    operations: int
    credits_charged: int
    credits_refunded: int
    credits_used: int


class Usage(BaseModel):
    days: list[UsageDay]
    total_operations: int
    total_credits_used: int


class EntryView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    amount: int
    job_id: str | None
    operation: str | None
    reason: str | None
    created_at: datetime


class GrantBody(BaseModel):
    amount: int = Field(ge=-1_000_000_000, le=1_000_000_000)
    reason: str = Field(max_length=500)


class AccountPatch(BaseModel):
    role: str | None = Field(None, pattern="^(user|admin)$")
    tier: str | None = Field(None, max_length=32)


# Balance and usage take the write session: reading a daily tier's balance applies today's reset.
@router.get("/v1/credits", response_model=Balance)
def balance(session: DbSession, rt: Rt, who: Reader) -> Balance:
    amount = ledger.current(session, rt.settings, who.account_id) if who.metered else None
    return Balance(
        account_id=who.account_id,
        tier=who.tier,
        balance=amount,
        daily_allowance=rt.settings.credit_daily.get(who.tier),
        costs=rt.settings.credit_costs,
        default_cost=rt.settings.credit_default_cost,
    )


@router.get("/v1/credits/usage", response_model=Usage)
def usage(session: DbSession, who: Reader, days: Annotated[int, Query(ge=1, le=90)] = 30) -> Usage:
    """Operations and credits per UTC day over the last ``days`` (1-90), oldest first."""
    rows = [UsageDay.model_validate(d) for d in ledger.usage_by_day(session, who.account_id, days)]
    return Usage(
        days=rows,
        total_operations=sum(d.operations for d in rows),
        total_credits_used=sum(d.credits_used for d in rows),
    )


@router.get("/v1/credits/ledger", response_model=list[EntryView])
def entries(
    session: DbSession, who: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[CreditEntry]:
    """The newest ledger entries; their sum over all time is the balance."""
    query = (
        select(CreditEntry)
        .where(CreditEntry.account_id == who.account_id)
        .order_by(CreditEntry.created_at.desc(), CreditEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


@router.post("/v1/admin/accounts/{account_id}/credits", response_model=EntryView, status_code=201)
def grant(account_id: str, body: GrantBody, session: DbSession, rt: Rt, who: Admin) -> CreditEntry | None:
    identity.find_account(session, account_id=account_id)
    reason = f"{body.reason} (by {who.account_id})"
    return ledger.grant(session, rt.settings, account_id, body.amount, reason=reason)


@router.patch("/v1/admin/accounts/{account_id}", response_model=AccountView)
def patch_account(account_id: str, body: AccountPatch, session: DbSession, who: Admin) -> AccountView:
    account = identity.find_account(session, account_id=account_id)
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(account, name, value)
    session.flush()
    return AccountView.model_validate(account)
