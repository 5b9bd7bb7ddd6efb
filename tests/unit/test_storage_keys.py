"""Blob key validation and generation."""

from __future__ import annotations

import re

import pytest

from mediaforge.storage import InvalidKey, new_key, validate_key

GOOD = ["a", "a/b", "assets/ab/cd/0123.png", "A-Z_0.9", "..a/b..", ".hidden/x", "x" * 512]
BAD = ["", "/abs", "a/", "a//b", ".", "..", "a/./b", "../x", "a/..", "a\\b", "a\x00b", "a b", "ä", "x" * 513]


@pytest.mark.parametrize("key", GOOD)
def test_valid_keys_are_returned_unchanged(key: str) -> None:
    """A well-formed key passes through as is."""
    assert validate_key(key) == key


@pytest.mark.parametrize("key", BAD, ids=repr)
def test_invalid_keys_raise_invalid_key(key: str) -> None:
    """Empty segments, relative segments, absolute paths and foreign characters are refused."""
    with pytest.raises(InvalidKey) as caught:
        validate_key(key)
    assert (caught.value.status, caught.value.code) == (400, "invalid_key")


def test_non_string_key_raises_invalid_key() -> None:
    """A key of the wrong type is an invalid key, not a TypeError."""
    with pytest.raises(InvalidKey):
        validate_key(b"abc")  # type: ignore[arg-type]


def test_new_key_fans_out_under_prefix() -> None:
    """A new key is ``prefix/xx/yy/<32 hex>.ext`` whose fan-out comes from the uuid."""
    key = new_key("assets", "png")
    match = re.fullmatch(r"assets/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{32})\.png", key)
    assert match is not None
    assert match.group(3).startswith(match.group(1) + match.group(2))


@pytest.mark.parametrize(
    ("ext", "suffix"),
    [
        ("", ""),
        ("png", ".png"),
        (".PNG", ".png"),
        ("photo.tar.GZ", ".gz"),
        ("../../e v!l", ".evl"),
        ("é", ""),
    ],
)
def test_new_key_sanitizes_the_extension(ext: str, suffix: str) -> None:
    """Only lowercase letters and digits after the last dot survive as the extension."""
    key = new_key("results/job-1", ext)
    assert key.startswith("results/job-1/")
    assert re.fullmatch(r"[0-9a-f]{32}" + re.escape(suffix), key.rsplit("/", 1)[1])


def test_new_keys_are_unique() -> None:
    """Two calls never collide."""
    assert len({new_key("a") for _ in range(1000)}) == 1000


def test_new_key_rejects_a_bad_prefix() -> None:
    """The prefix obeys the same rules as any key."""
    with pytest.raises(InvalidKey):
        new_key("../up")
