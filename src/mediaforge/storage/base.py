"""The blob storage interface every backend implements, and its errors.

Calls are synchronous and blocking; the engine and the API call them from threads. Keys are
validated by :func:`mediaforge.storage.keys.validate_key` before any backend touches them.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeAlias, runtime_checkable

from mediaforge.errors import BadRequest, NotFound, Unavailable

__all__ = [
    "CHUNK_SIZE",
    "BlobNotFound",
    "ChunkReader",
    "InvalidKey",
    "Payload",
    "Readable",
    "Storage",
    "StorageError",
    "StoredObject",
    "check_range",
    "iter_payload",
]

CHUNK_SIZE = 1024 * 1024


class BlobNotFound(NotFound):
    code = "blob_not_found"


class InvalidKey(BadRequest):
    code = "invalid_key"


class StorageError(Unavailable):
    code = "storage_unavailable"


@runtime_checkable
class Readable(Protocol):
    """Anything with a binary ``read``: open files, ``BytesIO``, upload spools."""

    def read(self, size: int = -1, /) -> bytes: ...


Payload: TypeAlias = "bytes | Readable | Iterable[bytes]"


@dataclass(frozen=True, slots=True)
class StoredObject:
    """What a backend knows about one blob; ``content_type`` is None where it keeps none."""

    key: str
    size: int
    content_type: str | None = None


class Storage(ABC):
    """A flat namespace of immutable-by-convention blobs addressed by validated keys."""

    name: ClassVar[str]

    @abstractmethod
    def put(self, key: str, data: Payload, *, content_type: str | None = None) -> StoredObject:
        """Store ``data`` under ``key``, replacing any blob there; file-likes stream in chunks."""

    @abstractmethod
    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Chunks of ``blob[start:end]`` (``end`` exclusive); raises ``BlobNotFound`` eagerly."""

    @abstractmethod
    def stat(self, key: str) -> StoredObject:
        """Size and content type of a blob; raises ``BlobNotFound``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove a blob; deleting a missing blob is not an error."""

    @abstractmethod
    def signed_url(
        self, key: str, *, expires_in: int, filename: str | None = None, method: str = "GET"
    ) -> str:
        """A URL that grants ``method`` on the blob for ``expires_in`` seconds without credentials."""

    @abstractmethod
    def check(self) -> None:
        """Readiness probe; raises ``StorageError`` when the backend cannot serve."""

    def read(self, key: str) -> bytes:
        """The whole blob in memory; prefer :meth:`open` for anything large."""
        return b"".join(self.open(key))

    def exists(self, key: str) -> bool:
        """Whether a blob is stored under ``key``."""
        try:
            self.stat(key)
        except BlobNotFound:
            return False
        return True

    def local_path(self, key: str) -> Path | None:
        """The blob's file on this machine when the backend has one (zero-copy reads), else None."""
        from mediaforge.storage.keys import validate_key  # keys imports this module

        validate_key(key)
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def iter_payload(data: Payload, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Normalize any accepted payload into a stream of non-empty byte chunks."""
    if isinstance(data, bytes | bytearray | memoryview):
        if data:
            yield bytes(data)
        return
    if isinstance(data, Readable):
        while chunk := data.read(chunk_size):
            yield chunk
        return
    for chunk in data:
        if chunk:
            yield bytes(chunk)


def check_range(start: int, end: int | None) -> None:
    """Reject negative offsets; everything else follows slice semantics."""
    if start < 0 or (end is not None and end < 0):
        raise ValueError(f"byte range must be non-negative, got start={start} end={end}")


class ChunkReader(io.RawIOBase):
    """A non-seekable raw stream over byte chunks that counts what it hands out.

    Wrap it in ``io.BufferedReader`` to hand an iterator to APIs that want a file.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.consumed += n
        return n
