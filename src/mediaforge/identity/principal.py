"""Who is calling, what they may do, and whose data they see."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GUEST_SCOPES", "LOCAL", "SCOPES", "WORKER_SCOPES", "Principal", "check_scopes"]

RESOURCES = ("assets", "jobs", "workflows", "events", "webhooks", "account", "credits", "billing")
SCOPES = frozenset({"*", "worker", "admin"} | {f"{r}:{a}" for r in RESOURCES for a in ("read", "write", "*")})
"""``resource:read`` / ``resource:write`` / ``resource:*``, ``*`` for everything the account may do,
``worker`` for paired workers, ``admin`` (effective only on an admin account)."""

GUEST_SCOPES = frozenset({"assets:*", "jobs:*", "events:read", "credits:read", "account:read"})
WORKER_SCOPES = frozenset({"worker"})


def check_scopes(scopes: list[str]) -> list[str]:
    """``scopes`` if each is known, else ValueError naming the first that is not."""
    for scope in scopes:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}")
    return scopes


@dataclass(frozen=True)
class Principal:
    """The caller: an account acting through one credential, within that credential's scopes."""

    account_id: str
    role: str
    """``user`` | ``admin`` | ``guest``."""
    tier: str
    kind: str
    """The credential kind (``api_key``, ``session``, ``device``, ``guest``, ``worker``) or ``local``."""
    scopes: frozenset[str]
    credential_id: str | None = None

    @property
    def owner_id(self) -> str:
        """Whose new data this caller creates."""
        return self.account_id

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and self.allows("admin")

    @property
    def sees(self) -> str | None:
        """The owner filter for reads: None (everyone's) for admins, else the caller's own."""
        return None if self.is_admin else self.account_id

    @property
    def metered(self) -> bool:
        """Whether credits are charged (not for the auth-off local developer)."""
        return self.kind != "local"

    def allows(self, scope: str) -> bool:
        if scope == "admin":
            return self.role == "admin" and ("admin" in self.scopes or "*" in self.scopes)
        resource = scope.split(":", 1)[0]
        return "*" in self.scopes or scope in self.scopes or f"{resource}:*" in self.scopes


LOCAL = Principal(account_id="local", role="admin", tier="local", kind="local", scopes=frozenset({"*"}))
"""Everyone, when ``auth_disabled`` is on (loopback development only)."""
