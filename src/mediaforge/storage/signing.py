"""HMAC-signed blob URLs for backends without native presigning (local, memory).

The API route serving ``/v1/blobs/{key}`` calls :func:`verify` with the query parameters.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from urllib.parse import quote, urlencode

__all__ = ["content_disposition", "sign", "signed_blob_url", "verify"]

_UNSAFE_FALLBACK = re.compile(r'[^\x20-\x7e]|["\\]')


def sign(key_bytes: bytes, key: str, expires: int, filename: str | None = None) -> str:
    """Hex HMAC-SHA256 over the blob key, the expiry (unix seconds) and the download filename."""
    message = f"{key}\n{int(expires)}\n{filename or ''}".encode()
    return hmac.new(key_bytes, message, hashlib.sha256).hexdigest()


def verify(
    key_bytes: bytes,
    key: str,
    expires: int | str,
    filename: str | None,
    signature: str,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` was issued for these values and has not expired at ``now``."""
    try:
        deadline = int(expires)
    except (TypeError, ValueError):
        return False
    if deadline < (time.time() if now is None else now):
        return False
    expected = sign(key_bytes, key, deadline, filename)
    return hmac.compare_digest(expected.encode(), str(signature).encode())


def signed_blob_url(
    public_url: str,
    key_bytes: bytes,
    key: str,
    *,
    expires_in: int,
    filename: str | None = None,
    method: str = "GET",
    now: float | None = None,
) -> str:
    """``{public_url}/v1/blobs/{key}?expires=..&signature=..[&filename=..]`` for a GET download."""
    if method.upper() != "GET":
        raise ValueError(f"HMAC-signed blob URLs grant GET only, not {method!r}")
    if expires_in <= 0:
        raise ValueError("expires_in must be positive")
    expires = int(time.time() if now is None else now) + expires_in
    query = {"expires": str(expires), "signature": sign(key_bytes, key, expires, filename)}
    if filename:
        query["filename"] = filename
    return f"{public_url.rstrip('/')}/v1/blobs/{quote(key, safe='/')}?{urlencode(query)}"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """A ``Content-Disposition`` value naming ``filename`` (RFC 6266, with a UTF-8 variant)."""
    fallback = _UNSAFE_FALLBACK.sub("_", filename)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
