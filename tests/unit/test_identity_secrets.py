"""Tokens, codes, password hashes and scopes: the pure parts of identity."""

from __future__ import annotations

import hashlib

import pytest

from mediaforge.identity import secrets as s
from mediaforge.identity.principal import LOCAL, Principal, check_scopes


@pytest.mark.parametrize("kind", sorted(s.TOKEN_KINDS))
def test_tokens_carry_their_kind_and_a_prefix_that_finds_them(kind: str) -> None:
    tokens = [s.new_token(kind) for _ in range(200)]
    for token, prefix in tokens:
        assert (s.parse_prefix(token), token[2]) == (prefix, s.TOKEN_KINDS[kind])
    assert len({t for t, _ in tokens}) == 200


@pytest.mark.parametrize("token", ["", "abc", "mfk_short", "mfx_0123456789ab_" + "a" * 32, "Bearer mfk_x"])
def test_foreign_shapes_have_no_prefix(token: str) -> None:
    assert s.parse_prefix(token) is None


def test_secrets_are_stored_as_sha256_and_compared_whole() -> None:
    token, _ = s.new_token("api_key")
    stored = s.hash_secret(token)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert (s.matches(token, stored), s.matches(token[:-1] + "x", stored)) == (True, False)


def test_passwords_are_argon2id_and_a_missing_hash_never_verifies() -> None:
    stored = s.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert s.verify_password("correct horse battery", stored)
    assert not s.verify_password("wrong", stored)
    assert not s.verify_password("anything", None)
    assert not s.verify_password("anything", "not-a-hash")


def test_user_codes_are_typeable() -> None:
    for _ in range(100):
        code = s.new_user_code()
        assert (len(code), code[4]) == (9, "-")
        assert set(code.replace("-", "")) <= set("BCDFGHJKLMNPQRSTVWXZ")


def test_scopes() -> None:
    reader = Principal("a", "user", "free", "api_key", frozenset({"jobs:read", "assets:*"}))
    assert [reader.allows(x) for x in ("jobs:read", "jobs:write", "assets:write", "admin")] == [
        True,
        False,
        True,
        False,
    ]
    admin = Principal("b", "admin", "free", "session", frozenset({"*"}))
    assert (admin.is_admin, admin.sees, reader.sees) == (True, None, "a")
    scoped_admin = Principal("b", "admin", "free", "api_key", frozenset({"jobs:read"}))
    assert (scoped_admin.is_admin, scoped_admin.sees) == (False, "b")
    assert (LOCAL.metered, reader.metered) == (False, True)
    with pytest.raises(ValueError, match="unknown scope"):
        check_scopes(["jobs:read", "root"])


def test_token_checks_compare_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets are compared with ``hmac.compare_digest``, never ``==`` (which stops at a difference)."""
    calls: list[tuple[str, str]] = []
    real = s.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(s.hmac, "compare_digest", spy)
    token, _ = s.new_token("session")
    assert s.matches(token, s.hash_secret(token))
    assert calls == [(s.hash_secret(token), s.hash_secret(token))]


def test_an_unknown_email_costs_an_argon2_check_like_a_known_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Login timing does not tell whether an account exists: a missing hash is checked against a dummy."""
    real = s._hasher()
    verified: list[str] = []

    class Spy:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            verified.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(s, "_hasher", Spy)
    assert not s.verify_password("guess", None)
    assert not s.verify_password("guess", s.hash_password("the real one"))
    assert len(verified) == 2
    assert all(v.startswith("$argon2id$") for v in verified)
