"""Pick and build a storage backend from a URL: ``file://``, a plain path, ``memory://``, ``s3://``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from mediaforge.storage.base import Storage
from mediaforge.storage.local import LocalStorage
from mediaforge.storage.memory import MemoryStorage

if TYPE_CHECKING:
    from mediaforge.config import Settings

__all__ = ["storage_from_settings", "storage_from_url"]


def storage_from_settings(settings: Settings) -> Storage:
    """The backend ``settings.storage_url`` names, configured from the rest of the settings."""
    return storage_from_url(
        settings.storage_url,
        public_url=settings.public_url,
        signing_key=settings.signing_key(),
        s3_endpoint_url=settings.s3_endpoint_url,
        s3_region=settings.s3_region,
        s3_access_key=settings.s3_access_key.get_secret_value() if settings.s3_access_key else None,
        s3_secret_key=settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None,
    )


def storage_from_url(
    url: str,
    *,
    public_url: str,
    signing_key: bytes,
    s3_endpoint_url: str | None = None,
    s3_region: str = "us-east-1",
    s3_access_key: str | None = None,
    s3_secret_key: str | None = None,
) -> Storage:
    """Build the backend for ``url``; an unknown scheme raises ``ValueError``."""
    if "://" not in url:
        if not url:
            raise ValueError("storage URL is empty")
        return LocalStorage(Path(url), public_url=public_url, signing_key=signing_key)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in {"", "localhost"}:
            raise ValueError(f"file storage URL must be local, got host {parts.netloc!r}")
        return LocalStorage(Path(unquote(parts.path)), public_url=public_url, signing_key=signing_key)
    if scheme == "memory":
        return MemoryStorage(public_url=public_url, signing_key=signing_key)
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"S3 storage URL needs a bucket: {url!r}")
        from mediaforge.storage.s3 import S3Storage

        return S3Storage(
            parts.netloc,
            prefix=unquote(parts.path).strip("/"),
            endpoint_url=s3_endpoint_url,
            region=s3_region,
            access_key=s3_access_key,
            secret_key=s3_secret_key,
        )
    raise ValueError(f"unknown storage URL scheme {parts.scheme!r} (use file://, memory:// or s3://)")
