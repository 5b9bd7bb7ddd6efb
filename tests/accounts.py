"""Make real accounts and keys for tests (through the identity service, as the CLI does)."""

from __future__ import annotations

from dataclasses import dataclass

from mediaforge.config import Settings
from mediaforge.db.engine import Database
from mediaforge.identity import service as identity


@dataclass(frozen=True)
class Tenant:
    account_id: str
    email: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(
    settings: Settings,
    email: str,
    *,
    role: str = "user",
    tier: str = "free",
    password: str | None = "correct horse battery",
    scopes: list[str] | None = None,
) -> Tenant:
    """A new account with one API key, committed."""
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            account = identity.create_account(session, email, password, role=role, tier=tier)
            issued = identity.issue(session, account, "api_key", name="test", scopes=scopes)
            return Tenant(account.id, account.email or email, issued.token)
    finally:
        db.dispose()
