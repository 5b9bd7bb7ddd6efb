"""``/v1/assets``: upload (multipart or URL), metadata, streamed content with ranges, delete."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Header, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from mediaforge.api.deps import Caller, DbSession, Principal, ReadSession, Rt
from mediaforge.assets import service as assets
from mediaforge.assets.models import Asset
from mediaforge.errors import BadRequest, PayloadTooLarge
from mediaforge.media.sniff import SNIFF_BYTES, sniff
from mediaforge.storage.signing import content_disposition, verify

router = APIRouter(tags=["assets"])
Reader = Annotated[Principal, Caller("assets:read")]
Writer = Annotated[Principal, Caller("assets:write")]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class AssetView(BaseModel):
    """An asset; ``content_type`` was sniffed from the bytes."""

    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    source: str
    job_id: str | None
    created_at: datetime
    expires_at: datetime | None
    url: str = Field(description="A signed download link, valid for an hour.")

    @classmethod
    def of(cls, asset: Asset, rt: Rt) -> AssetView:
        return cls(
            id=asset.id,
            filename=asset.filename,
            content_type=asset.content_type,
            size=asset.size,
            sha256=asset.sha256,
            width=asset.width,
            height=asset.height,
            source=asset.source,
            job_id=asset.job_id,
            created_at=asset.created_at,
            expires_at=asset.expires_at,
            url=rt.storage.signed_url(asset.storage_key, expires_in=3600, filename=asset.filename),
        )


class FromUrl(BaseModel):
    url: str = Field(..., min_length=1, max_length=4096)
    filename: str | None = Field(None, max_length=255)


@router.post("/v1/assets", status_code=status.HTTP_201_CREATED, response_model=AssetView)
def upload_asset(
    file: Annotated[UploadFile, File()],
    session: DbSession,
    rt: Rt,
    who: Writer,
    content_length: Annotated[int | None, Header()] = None,
) -> AssetView:
    """Upload one file (multipart field ``file``)."""
    if content_length is not None and content_length > rt.settings.max_upload_bytes + 64 * 1024:
        raise PayloadTooLarge(f"file exceeds {rt.settings.max_upload_bytes} bytes", code="file_too_large")
    asset = assets.ingest_stream(
        session, rt.storage, rt.settings, owner_id=who.owner_id, stream=file.file, filename=file.filename
    )
    return AssetView.of(asset, rt)


@router.post("/v1/assets/from-url", status_code=status.HTTP_201_CREATED, response_model=AssetView)
def upload_from_url(body: FromUrl, session: DbSession, rt: Rt, who: Writer) -> AssetView:
    """Fetch a URL (public addresses only, unless allow-listed) and store it."""
    asset = assets.ingest_url(
        session, rt.storage, rt.settings, owner_id=who.owner_id, url=body.url, filename=body.filename
    )
    return AssetView.of(asset, rt)


@router.get("/v1/assets/{asset_id}", response_model=AssetView)
def get_asset(asset_id: str, session: ReadSession, rt: Rt, who: Reader) -> AssetView:
    return AssetView.of(assets.get(session, asset_id, who.sees), rt)


@router.get("/v1/assets/{asset_id}/content")
def asset_content(asset_id: str, request: Request, session: ReadSession, rt: Rt, who: Reader) -> Response:
    """The bytes, streamed, with ``Range`` support and a download filename."""
    asset = assets.get(session, asset_id, who.sees)
    return stream_blob(
        rt, asset.storage_key, asset.size, asset.content_type, asset.filename, request.headers.get("range")
    )


@router.delete("/v1/assets/{asset_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_asset(asset_id: str, session: DbSession, rt: Rt, who: Writer) -> Response:
    assets.delete(session, rt.storage, assets.get(session, asset_id, who.sees))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/blobs/{key:path}", include_in_schema=False)
def signed_blob(
    key: str, expires: int, signature: str, rt: Rt, request: Request, filename: str | None = None
) -> Response:
    """Serve a signed link made by the local or memory backend (no API key needed)."""
    if not verify(rt.settings.signing_key(), key, expires, filename, signature, int(time.time())):
        raise BadRequest("the link is invalid or has expired", code="invalid_signature")
    stat = rt.storage.stat(key)
    content_type = stat.content_type or sniff(b"".join(rt.storage.open(key, end=SNIFF_BYTES)), filename)
    return stream_blob(rt, key, stat.size, content_type, filename, request.headers.get("range"))


def stream_blob(
    rt: Rt, key: str, size: int, content_type: str, filename: str | None, range_header: str | None
) -> Response:
    headers = {"Accept-Ranges": "bytes"}
    if filename:
        headers["Content-Disposition"] = content_disposition(filename)
    start, end, code = 0, size, status.HTTP_200_OK
    if range_header and (m := _RANGE.match(range_header.strip())) and (m.group(1) or m.group(2)):
        if m.group(1):
            start = int(m.group(1))
            end = min(size, int(m.group(2)) + 1) if m.group(2) else size
        else:
            start = max(0, size - int(m.group(2)))
        if start >= size or start >= end:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        rt.storage.open(key, start=start, end=end), status_code=code, media_type=content_type, headers=headers
    )
