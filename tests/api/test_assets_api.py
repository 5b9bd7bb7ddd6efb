"""The native ``/v1/assets`` API over HTTP: upload, sniffing, ranges, signed links, limits, URL fetching."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from tests.accounts import Tenant
from tests.conftest import make_settings, wait_for

from mediaforge.app import create_app


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    """A real PNG of random pixels (so it does not compress away)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, format="PNG")
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose IHDR claims ``width`` x ``height`` 1-bit pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def upload(
    client: TestClient,
    data: bytes,
    filename: str = "pic.png",
    content_type: str = "text/plain",
    **headers: str,
) -> Any:
    return client.post("/v1/assets", files={"file": (filename, data, content_type)}, headers=headers)


def uploaded(client: TestClient, data: bytes, **headers: str) -> dict[str, Any]:
    response = upload(client, data, **headers)
    assert response.status_code == 201, response.text
    asset: dict[str, Any] = response.json()
    return asset


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture(autouse=True)
def _restore_pillow_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probing raises Pillow's process-wide pixel ceiling; put it back after each test."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


@pytest.fixture
def small_uploads(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    """An app that refuses uploads over 1000 bytes."""
    settings = make_settings(tmp_path, database_url, max_upload_bytes=1000)
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as c:
        yield c


@pytest.fixture
def png_server() -> Iterator[tuple[str, bytes]]:
    """A local HTTP server answering every GET with one PNG; yields its ``host:port`` and the bytes."""
    body = png_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", body
    server.shutdown()
    server.server_close()
    thread.join()


# --- upload and download -------------------------------------------------------------------
def test_upload_sniffs_type_and_dimensions_from_the_bytes(api_only: TestClient) -> None:
    """A PNG sent as ``text/plain`` is stored as image/png with its size, dimensions and SHA-256."""
    data = png_bytes(64, 48)
    response = upload(api_only, data)
    asset = response.json()
    expected = (201, "image/png", 64, 48, len(data), hashlib.sha256(data).hexdigest(), "pic.png")
    actual = (
        response.status_code,
        asset["content_type"],
        asset["width"],
        asset["height"],
        asset["size"],
        asset["sha256"],
        asset["filename"],
    )
    assert expected == actual


def test_metadata_reads_back(api_only: TestClient) -> None:
    """GET on an asset returns the same metadata the upload did."""
    asset = uploaded(api_only, png_bytes())
    read = api_only.get(f"/v1/assets/{asset['id']}").json()
    without_url = {k: v for k, v in asset.items() if k != "url"}
    assert without_url == {k: v for k, v in read.items() if k != "url"}


def test_content_streams_the_exact_bytes(api_only: TestClient) -> None:
    """GET /content returns the uploaded bytes as an attachment named after the upload."""
    data = png_bytes()
    asset = uploaded(api_only, data)
    response = api_only.get(f"/v1/assets/{asset['id']}/content")
    expected = (200, data, "image/png", "attachment; filename=\"pic.png\"; filename*=UTF-8''pic.png")
    actual = (
        response.status_code,
        response.content,
        response.headers["content-type"],
        response.headers["content-disposition"],
    )
    assert expected == actual


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=10-19", 10, 19), ("bytes=100-", 100, None), ("bytes=-16", -16, None)],
    ids=["closed", "open-ended", "suffix"],
)
def test_range_request_returns_the_slice(
    api_only: TestClient, header: str, first: int, last: int | None
) -> None:
    """A ``Range`` request is a 206 with exactly that slice and a matching ``Content-Range``."""
    data = png_bytes()
    asset = uploaded(api_only, data)
    response = api_only.get(f"/v1/assets/{asset['id']}/content", headers={"Range": header})
    start = first % len(data)
    end = len(data) - 1 if last is None else last
    expected = (206, data[start : end + 1], f"bytes {start}-{end}/{len(data)}")
    assert expected == (response.status_code, response.content, response.headers["content-range"])


def test_unsatisfiable_range_is_416(api_only: TestClient) -> None:
    """A range starting past the end is a 416 naming the size."""
    data = png_bytes()
    asset = uploaded(api_only, data)
    response = api_only.get(f"/v1/assets/{asset['id']}/content", headers={"Range": f"bytes={len(data)}-"})
    assert (416, f"bytes */{len(data)}") == (response.status_code, response.headers["content-range"])


def test_signed_url_downloads_without_an_api_key(tenants: TestClient, alice: Tenant) -> None:
    """The view's signed ``url`` serves the bytes to a caller with no API key."""
    data = png_bytes()
    asset = uploaded(tenants, data, **alice.headers)
    response = tenants.get(path_of(asset["url"]))
    assert (200, data) == (response.status_code, response.content)


def test_tampered_signature_is_400(tenants: TestClient, alice: Tenant) -> None:
    """A signed link whose signature was altered is a 400 ``invalid_signature``."""
    asset = uploaded(tenants, png_bytes(), **alice.headers)
    parts = urlsplit(asset["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["signature"] = ("0" if query["signature"][0] != "0" else "1") + query["signature"][1:]
    response = tenants.get(f"{parts.path}?{urlencode(query)}")
    assert error_of(response) == (400, "invalid_signature")


def test_deleted_asset_is_gone(api_only: TestClient) -> None:
    """DELETE is a 204, after which the asset and its content are 404."""
    asset = uploaded(api_only, png_bytes())
    deleted = api_only.delete(f"/v1/assets/{asset['id']}")
    read = api_only.get(f"/v1/assets/{asset['id']}")
    content = api_only.get(f"/v1/assets/{asset['id']}/content")
    expected = (204, (404, "asset_not_found"), (404, "asset_not_found"))
    assert expected == (deleted.status_code, error_of(read), error_of(content))


# --- bad uploads ---------------------------------------------------------------------------
def test_empty_upload_is_400(api_only: TestClient) -> None:
    """A zero-byte upload is a 400 ``empty_file``."""
    assert error_of(upload(api_only, b"")) == (400, "empty_file")


@pytest.mark.parametrize("size", [5_000, 200_000], ids=["streamed", "by-content-length"])
def test_upload_over_the_limit_is_413(small_uploads: TestClient, size: int) -> None:
    """An upload larger than ``max_upload_bytes`` is a 413 ``file_too_large``."""
    response = upload(small_uploads, os.urandom(size), filename="blob.bin")
    assert error_of(response) == (413, "file_too_large")


def test_decompression_bomb_is_400(api_only: TestClient) -> None:
    """A tiny PNG declaring 30000x30000 pixels is refused with ``image_too_large``."""
    response = upload(api_only, png_declaring(30_000, 30_000))
    assert error_of(response) == (400, "image_too_large")


def test_truncated_png_uploads_but_fails_image_info(client: TestClient) -> None:
    """A PNG cut in half uploads (its header is intact) but ``image.info`` fails it as ``invalid_image``."""
    data = png_bytes(128, 128)
    asset = uploaded(client, data[: len(data) // 2])
    job = client.post("/v1/jobs", json={"type": "image.info", "inputs": [asset["id"]]}).json()
    done = wait_for(client, job["id"])
    assert (asset["content_type"], asset["width"], asset["height"]) == ("image/png", 128, 128)
    assert (done["status"], done["error"]["type"]) == ("failed", "invalid_image")
    assert "truncated" in done["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:1/",
    ],
    ids=["loopback", "private", "metadata", "localhost"],
)
def test_from_url_refuses_internal_addresses(api_only: TestClient, url: str) -> None:
    """Fetching a loopback, private, link-local or localhost URL is a 400 ``url_blocked``."""
    assert error_of(api_only.post("/v1/assets/from-url", json={"url": url})) == (400, "url_blocked")


def test_from_url_fetches_an_allow_listed_host(
    tmp_path: Path, database_url: str, png_server: tuple[str, bytes]
) -> None:
    """A URL on an allow-listed local host is fetched and stored, typed from its bytes."""
    host, body = png_server
    settings = make_settings(tmp_path, database_url, fetch_allow_hosts=host)
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as c:
        response = c.post("/v1/assets/from-url", json={"url": f"http://{host}/images/photo.png"})
    asset = response.json()
    expected = (201, "image/png", hashlib.sha256(body).hexdigest(), "photo.png", "url")
    actual = (
        response.status_code,
        asset["content_type"],
        asset["sha256"],
        asset["filename"],
        asset["source"],
    )
    assert expected == actual


def test_service_stays_healthy_after_bad_inputs(client: TestClient) -> None:
    """After empty, bomb, truncated and blocked-URL inputs, /health is ok and a normal job still succeeds."""
    upload(client, b"")
    upload(client, png_declaring(30_000, 30_000))
    client.post("/v1/assets/from-url", json={"url": "http://169.254.169.254/latest/meta-data"})
    truncated = uploaded(client, png_bytes()[:200])
    bad = client.post("/v1/jobs", json={"type": "image.info", "inputs": [truncated["id"]]}).json()
    wait_for(client, bad["id"])
    good = uploaded(client, png_bytes(32, 16))
    job = client.post("/v1/jobs", json={"type": "image.info", "inputs": [good["id"]]}).json()
    done = wait_for(client, job["id"])
    health = client.get("/health")
    expected = (200, "succeeded", 32, 16)
    assert expected == (health.status_code, done["status"], done["result"]["width"], done["result"]["height"])


# --- tenants -------------------------------------------------------------------------------
def test_another_tenants_asset_is_404(tenants: TestClient, alice: Tenant, bob: Tenant) -> None:
    """Bob cannot read, download or delete Alice's asset: to him it does not exist."""
    asset = uploaded(tenants, png_bytes(), **alice.headers)
    url = f"/v1/assets/{asset['id']}"
    responses = [
        tenants.get(url, headers=bob.headers),
        tenants.get(f"{url}/content", headers=bob.headers),
        tenants.delete(url, headers=bob.headers),
    ]
    assert [error_of(r) for r in responses] == [(404, "asset_not_found")] * 3
    assert tenants.get(url, headers=alice.headers).status_code == 200


def test_job_on_another_tenants_asset_is_422(tenants: TestClient, alice: Tenant, bob: Tenant) -> None:
    """Bob cannot submit a job whose input is Alice's asset: it is an unknown asset to him."""
    asset = uploaded(tenants, png_bytes(), **alice.headers)
    response = tenants.post(
        "/v1/jobs", json={"type": "image.info", "inputs": [asset["id"]]}, headers=bob.headers
    )
    assert error_of(response) == (422, "unknown_asset")
