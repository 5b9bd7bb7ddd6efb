"""Asset rules: store bytes (hashing, sniffing, probing as they stream), fetch URLs safely, expire.

Blob writes happen before the row is added; a failed transaction leaves an orphan blob, never a row
pointing at nothing. The sweeper deletes expired blobs and then marks their rows deleted.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, cast

from sqlalchemy.orm import Session

from mediaforge.assets.models import Asset
from mediaforge.assets.repository import AssetRepository
from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.errors import BadRequest, NotFound, PayloadTooLarge
from mediaforge.media.probe import probe_image
from mediaforge.media.sniff import SNIFF_BYTES, extension_for, sniff
from mediaforge.net.fetch import fetch_to_file
from mediaforge.storage import Storage, new_key

__all__ = [
    "AssetNotFound",
    "copy_to",
    "delete",
    "get",
    "ingest_file",
    "ingest_stream",
    "ingest_url",
    "sweep_expired",
]

_CHUNK = 1024 * 1024
Check = Callable[[Path, str], None]
"""Refuses a file (path, sniffed content type) by raising, before it is stored."""


class AssetNotFound(NotFound):
    code = "asset_not_found"


def get(session: Session, asset_id: str, owner_id: str | None) -> Asset:
    asset = AssetRepository(session).get(asset_id, owner_id=owner_id)
    if asset is None:
        raise AssetNotFound(f"asset {asset_id} not found")
    return asset


def ingest_stream(
    session: Session,
    storage: Storage,
    settings: Settings,
    *,
    owner_id: str,
    stream: BinaryIO,
    filename: str | None,
    source: str = "upload",
    source_url: str | None = None,
    ttl_seconds: int | None = None,
    check: Check | None = None,
) -> Asset:
    """Spool ``stream`` to a temp file (enforcing the size limit), then ingest it."""
    with tempfile.NamedTemporaryFile(dir=_tmp_dir(settings), suffix=".upload") as spool:
        size = 0
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > settings.max_upload_bytes:
                raise PayloadTooLarge(
                    f"file exceeds {settings.max_upload_bytes} bytes", code="file_too_large"
                )
            spool.write(chunk)
        spool.flush()
        return ingest_file(
            session,
            storage,
            settings,
            owner_id=owner_id,
            path=Path(spool.name),
            filename=filename,
            source=source,
            source_url=source_url,
            ttl_seconds=ttl_seconds,
            check=check,
        )


def ingest_file(
    session: Session,
    storage: Storage,
    settings: Settings,
    *,
    owner_id: str,
    path: Path,
    filename: str | None,
    source: str = "upload",
    source_url: str | None = None,
    job_id: str | None = None,
    ttl_seconds: int | None = None,
    check: Check | None = None,
) -> Asset:
    """Store the file at ``path`` as a new asset; the MIME type comes from its bytes.

    ``check(path, content_type)`` may refuse the file (by raising) before anything is stored.
    """
    size = path.stat().st_size
    if size == 0:
        raise BadRequest("the file is empty", code="empty_file")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    content_type = sniff(head, filename)
    if check is not None:
        check(path, content_type)
    width = height = None
    meta: dict[str, object] = {}
    if content_type.startswith("image/"):
        info = probe_image(path, max_pixels=settings.max_image_pixels)
        if info is not None:
            width, height = info.width, info.height
            meta = {
                "format": info.format,
                "frames": info.frames,
                "duration_ms": info.duration_ms,
                "dpi": info.dpi,
            }
    sha256 = hashlib.sha256()
    with path.open("rb") as fh:
        key = new_key("assets", extension_for(content_type))
        storage.put(key, _hashing(fh, sha256), content_type=content_type)
    ttl = settings.asset_ttl_seconds if ttl_seconds is None else ttl_seconds
    asset = Asset(
        owner_id=owner_id,
        storage_key=key,
        filename=_safe_filename(filename, content_type),
        content_type=content_type,
        size=size,
        sha256=sha256.hexdigest(),
        width=width,
        height=height,
        source=source,
        source_url=source_url,
        job_id=job_id,
        meta=meta,
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(seconds=ttl) if ttl else None,
    )
    return AssetRepository(session).add(asset)


def ingest_url(
    session: Session,
    storage: Storage,
    settings: Settings,
    *,
    owner_id: str,
    url: str,
    filename: str | None = None,
    ttl_seconds: int | None = None,
    check: Check | None = None,
) -> Asset:
    """Download ``url`` through the SSRF guard, then ingest it."""
    with tempfile.NamedTemporaryFile(dir=_tmp_dir(settings), suffix=".fetch") as spool:
        fetched = fetch_to_file(
            url,
            cast(BinaryIO, spool),
            max_bytes=settings.max_upload_bytes,
            timeout=settings.fetch_timeout_seconds,
            max_redirects=settings.fetch_max_redirects,
            allow_hosts=settings.allow_hosts,
        )
        spool.flush()
        return ingest_file(
            session,
            storage,
            settings,
            owner_id=owner_id,
            path=Path(spool.name),
            filename=filename or fetched.filename,
            source="url",
            source_url=url,
            ttl_seconds=ttl_seconds,
            check=check,
        )


def delete(session: Session, storage: Storage, asset: Asset) -> None:
    """Delete the blob and mark the row deleted (ids stay unique forever)."""
    storage.delete(asset.storage_key)
    asset.deleted_at = utcnow()
    session.flush()


def sweep_expired(session: Session, storage: Storage, limit: int = 500) -> int:
    """Delete blobs whose assets expired; returns how many."""
    expired = AssetRepository(session).expired(utcnow(), limit)
    for asset in expired:
        delete(session, storage, asset)
    return len(expired)


def _hashing(fh: BinaryIO, digest: hashlib._Hash) -> Iterator[bytes]:
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
        yield chunk


def _safe_filename(filename: str | None, content_type: str) -> str:
    name = Path((filename or "").replace("\\", "/")).name.strip().replace("\x00", "")[:200]
    return name or f"file{extension_for(content_type)}"


def _tmp_dir(settings: Settings) -> Path:
    path = settings.data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def copy_to(storage: Storage, asset: Asset, dest: Path) -> Path:
    """The asset as a local file: the blob itself for local storage, else a streamed copy."""
    local = storage.local_path(asset.storage_key)
    if local is not None and local.exists():
        return local
    with dest.open("wb") as fh:
        for chunk in storage.open(asset.storage_key):
            fh.write(chunk)
    return dest
