"""Blob storage: one small interface with local, memory and S3 backends, chosen by URL."""

from __future__ import annotations

from mediaforge.storage.base import (
    CHUNK_SIZE,
    BlobNotFound,
    InvalidKey,
    Payload,
    Readable,
    Storage,
    StorageError,
    StoredObject,
)
from mediaforge.storage.factory import storage_from_settings, storage_from_url
from mediaforge.storage.keys import new_key, validate_key
from mediaforge.storage.local import LocalStorage
from mediaforge.storage.memory import MemoryStorage
from mediaforge.storage.s3 import S3Storage

__all__ = [
    "CHUNK_SIZE",
    "BlobNotFound",
    "InvalidKey",
    "LocalStorage",
    "MemoryStorage",
    "Payload",
    "Readable",
    "S3Storage",
    "Storage",
    "StorageError",
    "StoredObject",
    "new_key",
    "storage_from_settings",
    "storage_from_url",
    "validate_key",
]
