"""Blobs in a dict: a real backend for tests and single-process demos, not a mock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import ClassVar

from mediaforge.storage.base import (
    CHUNK_SIZE,
    BlobNotFound,
    Payload,
    Storage,
    StoredObject,
    check_range,
    iter_payload,
)
from mediaforge.storage.keys import validate_key
from mediaforge.storage.signing import signed_blob_url

__all__ = ["MemoryStorage"]


class MemoryStorage(Storage):
    """Thread-safe in-process storage; contents vanish with the object."""

    name: ClassVar[str] = "memory"

    def __init__(self, *, public_url: str, signing_key: bytes) -> None:
        self.public_url = public_url
        self._signing_key = signing_key
        self._blobs: dict[str, tuple[bytes, str | None]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: Payload, *, content_type: str | None = None) -> StoredObject:
        validate_key(key)
        blob = b"".join(iter_payload(data))
        with self._lock:
            self._blobs[key] = (blob, content_type)
        return StoredObject(key=key, size=len(blob), content_type=content_type)

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_range(start, end)
        blob = self._get(key)[0]
        view = memoryview(blob)[start:end]
        return (bytes(view[i : i + CHUNK_SIZE]) for i in range(0, len(view), CHUNK_SIZE))

    def stat(self, key: str) -> StoredObject:
        blob, content_type = self._get(key)
        return StoredObject(key=key, size=len(blob), content_type=content_type)

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._lock:
            self._blobs.pop(key, None)

    def signed_url(
        self, key: str, *, expires_in: int, filename: str | None = None, method: str = "GET"
    ) -> str:
        validate_key(key)
        return signed_blob_url(
            self.public_url, self._signing_key, key, expires_in=expires_in, filename=filename, method=method
        )

    def check(self) -> None:
        return None

    def keys(self) -> list[str]:
        """Every stored key, sorted (handy in tests)."""
        with self._lock:
            return sorted(self._blobs)

    def _get(self, key: str) -> tuple[bytes, str | None]:
        validate_key(key)
        with self._lock:
            found = self._blobs.get(key)
        if found is None:
            raise BlobNotFound(f"blob {key!r} not found")
        return found
