"""Minting and checking secrets: bearer tokens, short codes, passwords.

A token reads ``mf<k>_<prefix>_<secret>``: ``k`` names its kind, the 12-character prefix finds the
stored row, and SHA-256 of the whole token (192 random bits, so no slow hash is needed) proves it.
Passwords are argon2id. Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "TOKEN_KINDS",
    "hash_password",
    "hash_secret",
    "matches",
    "new_code",
    "new_token",
    "new_user_code",
    "parse_prefix",
    "password_needs_rehash",
    "verify_password",
]

TOKEN_KINDS = {"api_key": "k", "session": "s", "device": "d", "guest": "g", "worker": "w"}
_KIND_LETTERS = frozenset(TOKEN_KINDS.values())
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels (no words), no look-alikes


def new_token(kind: str) -> tuple[str, str]:
    """``(token, prefix)`` for a new credential of ``kind``."""
    prefix = f"mf{TOKEN_KINDS[kind]}_{secrets.token_hex(6)}"
    return f"{prefix}_{secrets.token_urlsafe(24)}", prefix


def parse_prefix(token: str) -> str | None:
    """The lookup prefix of something shaped like one of our tokens, else None."""
    head = token[:16]
    if len(token) < 40 or token[16] != "_" or head[:2] != "mf" or head[2] not in _KIND_LETTERS:
        return None
    return head


def new_code() -> str:
    """A long one-shot code (device_code, pairing code)."""
    return secrets.token_urlsafe(24)


def new_user_code() -> str:
    """``XXXX-XXXX`` for a person to type (20^8 ≈ 2.6e10 values; valid minutes, polled slowly)."""
    letters = [secrets.choice(_USER_CODE_ALPHABET) for _ in range(8)]
    return "".join(letters[:4]) + "-" + "".join(letters[4:])


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def matches(value: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(value), stored_hash)


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches; costs the same whether or not there is a stored hash."""
    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)
