"""Standard Webhooks signatures: ``v1`` HMAC-SHA256 over ``{msg_id}.{timestamp}.{payload}``.

Secrets are ``whsec_`` followed by base64 of 24 to 64 random bytes. A message may carry several
space-separated signatures (one per live secret) so a receiver can rotate without downtime.
This module has no dependency on the rest of mediaforge: receivers import ``verify`` from it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as _random
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "TOLERANCE_SECONDS",
    "WebhookVerificationError",
    "decode_secret",
    "headers",
    "new_secret",
    "sign",
    "verify",
]

PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
_MIN_KEY, _MAX_KEY = 24, 64


class WebhookVerificationError(Exception):
    """The message is not authentic: headers missing, timestamp out of tolerance, or no signature matches."""


def new_secret() -> str:
    """A fresh ``whsec_`` secret holding 32 random bytes."""
    return PREFIX + base64.b64encode(_random.token_bytes(32)).decode()


def decode_secret(secret: str, *, strict: bool = False) -> bytes:
    """The HMAC key behind a secret (the ``whsec_`` prefix is optional, padding may be missing).

    ``strict`` also enforces the 24 to 64 byte key size the specification asks of a producer.
    """
    raw = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret is base64, optionally prefixed with whsec_") from exc
    if not key:
        raise ValueError("a webhook secret may not be empty")
    if strict and not _MIN_KEY <= len(key) <= _MAX_KEY:
        raise ValueError(f"a webhook secret holds {_MIN_KEY} to {_MAX_KEY} bytes, not {len(key)}")
    return key


def sign(secret: str, msg_id: str, timestamp: int, payload: bytes | str) -> str:
    """One ``v1,<base64>`` signature of ``payload`` for message ``msg_id`` sent at ``timestamp``."""
    body = payload.encode() if isinstance(payload, str) else payload
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: Iterable[str], msg_id: str, timestamp: int, payload: bytes | str) -> dict[str, str]:
    """The three ``webhook-*`` headers, signed with every secret given (newest first)."""
    signatures = " ".join(sign(secret, msg_id, timestamp, payload) for secret in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signatures}


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str | Iterable[str],
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> Any:
    """Check a received webhook and return its JSON payload, or raise ``WebhookVerificationError``.

    ``headers`` may use any case. ``secret`` is one secret or several (during a rotation); the
    message is authentic when any ``v1`` signature matches any of them. The timestamp must lie
    within ``tolerance`` seconds of ``now`` (default: the current time) in either direction.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    signatures = lowered.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("message timestamp too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("message timestamp too new")
    candidates = [secret] if isinstance(secret, str) else list(secret)
    expected = [base64.b64decode(sign(s, msg_id, timestamp, payload)[3:]) for s in candidates]
    for item in signatures.split():
        version, _, value = item.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, want) for want in expected):
            body = payload.decode() if isinstance(payload, bytes) else payload
            return json.loads(body)
    raise WebhookVerificationError("no matching signature found")
