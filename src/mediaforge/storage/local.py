"""Blobs as files under one root directory: the zero-setup default."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from mediaforge.storage.base import (
    CHUNK_SIZE,
    BlobNotFound,
    InvalidKey,
    Payload,
    Storage,
    StorageError,
    StoredObject,
    check_range,
    iter_payload,
)
from mediaforge.storage.keys import validate_key
from mediaforge.storage.signing import signed_blob_url

__all__ = ["LocalStorage"]

# "~" is not a key character, so an in-flight temporary file can never shadow a blob.
_TMP_PREFIX = "~put-"


class LocalStorage(Storage):
    """Each key is a file path under ``root``; writes land atomically via ``os.replace``.

    No content type is recorded: ``stat`` reports ``content_type=None``.
    """

    name: ClassVar[str] = "local"

    def __init__(self, root: str | os.PathLike[str], *, public_url: str, signing_key: bytes) -> None:
        self.root = Path(root).expanduser().resolve()
        self.public_url = public_url
        self._signing_key = signing_key

    def put(self, key: str, data: Payload, *, content_type: str | None = None) -> StoredObject:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidKey(f"blob key {key!r} collides with an existing blob") from exc
        except OSError as exc:
            raise StorageError(f"cannot write blob {key!r}: {exc.strerror}") from exc
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in iter_payload(data):
                    fh.write(chunk)
                    size += len(chunk)
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, IsADirectoryError):
                raise InvalidKey(f"blob key {key!r} collides with an existing prefix") from exc
            if isinstance(exc, OSError):
                raise StorageError(f"cannot write blob {key!r}: {exc.strerror}") from exc
            raise
        return StoredObject(key=key, size=size, content_type=None)

    def open(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_range(start, end)
        path = self._file(key)
        size = path.stat().st_size
        return self._chunks(path, start, size if end is None else min(end, size))

    def stat(self, key: str) -> StoredObject:
        return StoredObject(key=key, size=self._file(key).stat().st_size, content_type=None)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete blob {key!r}: {exc.strerror}") from exc

    def signed_url(
        self, key: str, *, expires_in: int, filename: str | None = None, method: str = "GET"
    ) -> str:
        validate_key(key)
        return signed_blob_url(
            self.public_url, self._signing_key, key, expires_in=expires_in, filename=filename, method=method
        )

    def local_path(self, key: str) -> Path:
        """The blob's file; raises ``BlobNotFound`` when there is none."""
        return self._file(key)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"storage root is unusable: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageError("storage root is not writable")

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise InvalidKey(f"blob key {key!r} escapes the storage root")
        return path

    def _file(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFound(f"blob {key!r} not found")
        return path

    @staticmethod
    def _chunks(path: Path, start: int, stop: int) -> Iterator[bytes]:
        try:
            with path.open("rb") as fh:
                fh.seek(start)
                remaining = stop - start
                while remaining > 0 and (chunk := fh.read(min(CHUNK_SIZE, remaining))):
                    remaining -= len(chunk)
                    yield chunk
        except FileNotFoundError as exc:
            raise BlobNotFound(f"blob {path.name!r} vanished while reading") from exc

    def __repr__(self) -> str:
        return f"<LocalStorage {self.root}>"
