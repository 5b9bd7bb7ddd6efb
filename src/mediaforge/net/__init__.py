"""Outbound HTTP that cannot be turned against the deployment (SSRF guard, pinned fetch)."""

from __future__ import annotations

from mediaforge.net.fetch import FetchResult, fetch_to_file
from mediaforge.net.guard import (
    BlockedAddress,
    Target,
    allowed_target,
    check_url,
    is_public_ip,
    resolve_public,
)

__all__ = [
    "BlockedAddress",
    "FetchResult",
    "Target",
    "allowed_target",
    "check_url",
    "fetch_to_file",
    "is_public_ip",
    "resolve_public",
]
