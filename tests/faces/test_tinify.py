"""The Tinify.ai face over HTTP, as its real clients use it, every body checked against the contract."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import update
from tests.accounts import make_tenant
from tests.conftest import make_settings
from tests.contract import validate

from mediaforge.app import create_app
from mediaforge.clock import utcnow
from mediaforge.config import Settings
from mediaforge.jobs.models import Job

SPEC = "tinify-ai.openapi.json"
OCTET = "application/octet-stream"


def jpeg(width: int = 320, height: int = 200) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(width):
        for y in range(0, height, 4):
            image.putpixel((x, y), (x % 256, (y * 3) % 256, (x * y) % 256))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid PNG header claiming 50,000 x 50,000 pixels (2.5 gigapixels) with a tiny body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


XXE_SVG = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&xxe;</text></svg>"""


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, auth_disabled=False, scheduler_secret="s3cret")


@pytest.fixture
def app(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as client:
        yield client


def upload(app: TestClient, data: bytes, name: str = "photo.jpg", **headers: str) -> Any:
    return app.post("/upload", files={"file": (name, data, OCTET)}, headers=headers)


def guest_credits(app: TestClient, token: str) -> int:
    status = app.get("/mcp/auth/status", headers={"X-Session-Token": token}).json()
    return int(status["credits_remaining"])


# --- phase 1 ------------------------------------------------------------------------------------------
def test_octet_stream_upload_is_sniffed_and_issues_a_guest_token(app: TestClient) -> None:
    response = upload(app, jpeg())
    assert response.status_code == 200, response.text
    body = response.json()
    validate(SPEC, "TempFileResponse", body)
    assert (body["mime_type"], body["gif_frame_count"]) == ("image/jpeg", None)
    assert body["session_token"].startswith("mfg_")
    again = upload(app, jpeg(), **{"X-Session-Token": body["session_token"]}).json()
    assert again["session_token"] is None


def test_animated_gif_reports_frames_and_fps(app: TestClient) -> None:
    frames = [Image.new("RGB", (20, 20), (i * 50, 255 - i * 50, 0)) for i in range(5)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    body = upload(app, buf.getvalue(), "anim.gif").json()
    validate(SPEC, "TempFileResponse", body)
    assert (body["gif_frame_count"], body["gif_fps"]) == (5, 10.0)


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        pytest.param("cut.jpg", jpeg()[:600], 400, id="truncated-jpeg"),
        pytest.param("empty.png", b"", 400, id="zero-bytes"),
        pytest.param("bomb.png", png_bomb(), 400, id="50000x50000-png-bomb"),
        pytest.param("xxe.svg", XXE_SVG, 400, id="svg-external-entity"),
        pytest.param("notes.txt", b"just some text, not an image at all", 415, id="not-an-image"),
    ],
)
def test_hostile_uploads_get_a_clean_4xx_and_cost_nothing(
    app: TestClient, name: str, data: bytes, status: int
) -> None:
    token = upload(app, jpeg()).json()["session_token"]
    before = guest_credits(app, token)
    response = upload(app, data, name, **{"X-Session-Token": token})
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str)
    assert guest_credits(app, token) == before
    assert app.get("/health").status_code == 200


def test_url_to_the_metadata_service_is_refused(app: TestClient) -> None:
    response = app.post("/upload/url", json={"url": "http://169.254.169.254/latest/meta-data/"})
    assert 400 <= response.status_code < 500
    assert "detail" in response.json()


# --- phase 2: credits ---------------------------------------------------------------------------------
def test_unknown_or_foreign_temp_file_is_404(app: TestClient) -> None:
    mine = upload(app, jpeg()).json()
    someone_else = upload(app, jpeg()).json()  # another guest
    response = app.post(
        "/auto",
        json={"temp_file_ids": [someone_else["temp_file_id"]]},
        headers={"X-Session-Token": mine["session_token"]},
    )
    assert response.status_code == 404
    assert "Temp file not found" in response.json()["detail"]


def test_endpoint_fields_must_be_valid_enums(app: TestClient) -> None:
    temp = upload(app, jpeg()).json()
    response = app.post(
        "/resize",
        json={"temp_file_ids": [temp["temp_file_id"]], "width": 10, "resize_behavior": "stretch"},
        headers={"X-Session-Token": temp["session_token"]},
    )
    assert response.status_code == 422
    validate(SPEC, "HTTPValidationError", response.json())


# --- status and download ------------------------------------------------------------------------------
def test_unknown_job_is_404_and_bad_ids_are_422(app: TestClient) -> None:
    unknown = "6f1c2a4e-0000-4000-8000-000000000000"
    assert app.get(f"/status/{unknown}").json() == {"detail": "Job not found"}
    assert app.get(f"/status/{unknown}").status_code == 404
    assert app.get(f"/download/{unknown}").status_code == 404
    validate(SPEC, "HTTPValidationError", app.get("/status/nope").json())
    batch = app.get("/status", params={"job_ids": f"{unknown},{unknown}"}).json()
    validate(SPEC, "BatchStatusResponse", batch)
    assert batch == {"success": True, "jobs": [], "total": 0}
    assert app.get("/status", params={"job_ids": "zzz"}).status_code == 422


def test_stream_of_an_unknown_job_sends_error(app: TestClient) -> None:
    with app.stream("GET", "/status/6f1c2a4e-0000-4000-8000-000000000000/stream") as response:
        text = "".join(response.iter_text())
    assert "event: error" in text
    assert "Job not found" in text


# --- account side -------------------------------------------------------------------------------------
def test_config_lists_the_tiers(app: TestClient) -> None:
    config = app.get("/config").json()
    assert config["tiers"]["guest"]["credits_per_day"] == 20
    assert config["tiers"]["free"]["credits_per_day"] == 50
    assert config["credit_costs"] == {"image": 1}


def test_usage_needs_a_user_and_counts_days(app: TestClient, settings: Settings) -> None:
    assert app.get("/usage/history").status_code == 401
    user = make_tenant(settings, "u@example.com")
    history = app.get("/usage/history", params={"days": 7}, headers=user.bearer).json()
    assert (history["days"], len(history["daily"]), history["total_jobs"]) == (7, 7, 0)
    assert app.get("/usage/history", params={"days": 91}, headers=user.bearer).status_code == 422
    summary = app.get("/usage/summary", headers=user.bearer).json()
    assert (summary["tier"], summary["credits_remaining"], summary["credits_limit"]) == ("free", 50, 50)


def test_billing_without_stripe_is_503(app: TestClient, settings: Settings) -> None:
    user = make_tenant(settings, "u@example.com")
    body = {"price_id": "p", "success_url": "https://x/ok", "cancel_url": "https://x/no"}
    response = app.post("/billing/checkout", json=body, headers=user.bearer)
    assert response.status_code == 503
    assert response.json()["detail"] == "payments not configured"


def test_internal_endpoints_need_the_scheduler_secret(app: TestClient) -> None:
    assert app.post("/internal/cleanup", headers={"X-CloudScheduler": "true"}).status_code == 403
    ok = {"X-CloudScheduler": "true", "X-Scheduler-Secret": "s3cret"}
    assert app.post("/internal/cleanup", headers=ok).json() == {"success": True, "deleted": 0, "errors": []}
    assert app.post("/internal/refresh-daily-credits", headers=ok).json()["success"] is True
    assert app.post("/internal/cleanup", headers={"X-Scheduler-Secret": "s3cret"}).status_code == 403


def test_cors_preflight(app: TestClient) -> None:
    plain = app.options("/upload")
    assert plain.status_code == 200
    preflight = app.options(
        "/status/abc/stream",
        headers={"Origin": "https://tinify.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://tinify.example")


# --- MCP device login ---------------------------------------------------------------------------------
def test_mcp_device_login_then_status_then_revoke(app: TestClient, settings: Settings) -> None:
    user = make_tenant(settings, "mcp@example.com")
    start = app.post("/mcp/auth/device-code").json()
    assert {"device_code", "user_code", "verify_url", "expires_in", "interval"} <= set(start)
    assert app.get("/mcp/auth/token", params={"device_code": start["device_code"]}).json() == {
        "status": "pending"
    }
    approved = app.post("/mcp/auth/approve", json={"user_code": start["user_code"]}, headers=user.bearer)
    assert approved.json()["status"] == "approved"
    token = app.get("/mcp/auth/token", params={"device_code": start["device_code"]}).json()
    assert (token["status"], token["user"]["email"], token["user"]["credits_remaining"]) == (
        "approved",
        "mcp@example.com",
        50,
    )
    mcp = {"Authorization": f"Bearer {token['mcp_token']}"}
    status = app.get("/mcp/auth/status", headers=mcp).json()
    assert (status["logged_in"], status["tier"], status["credits_limit"]) == (True, "free", 50)
    assert app.post("/mcp/auth/revoke", headers=mcp).json() == {"success": True}
    assert app.get("/mcp/auth/status", headers=mcp).status_code == 401


def test_device_code_is_limited_to_ten_an_hour_per_ip(app: TestClient) -> None:
    codes = [app.post("/mcp/auth/device-code").status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]
    assert "Retry-After" in app.post("/mcp/auth/device-code").headers


def _sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.split("\n\n"):
        lines = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


# --- the real client's flow (tinify-ai-mcp-server 1.3) -----------------------------------------------
@pytest.fixture
def worked(settings: Settings) -> Iterator[TestClient]:
    """The app with one embedded work process, so jobs run."""
    with TestClient(create_app(settings, workers=1, run_migrations=False)) as client:
        yield client


def client_flow(app: TestClient, auth: dict[str, str]) -> tuple[dict[str, Any], Any]:
    """upload (octet-stream) → /auto → SSE until ``complete`` → download; returns the event and download."""
    temp = upload(app, jpeg(640, 400), "holiday.jpg", **auth)
    assert temp.status_code == 200, temp.text
    validate(SPEC, "TempFileResponse", temp.json())
    auth = auth or {"X-Session-Token": temp.json()["session_token"]}
    settings = {"output_format": "webp", "output_seo_tag_gen": True, "output_seo_rename": False}
    processed = app.post(
        "/auto", json={"temp_file_ids": [temp.json()["temp_file_id"]], "settings": settings}, headers=auth
    )
    assert processed.status_code == 200, processed.text
    validate(SPEC, "ProcessFilesResponse", processed.json())
    job = processed.json()["jobs"][0]
    validate(SPEC, "JobResponse", {k: v for k, v in job.items() if k not in ("job_id", "temp_file_id")})
    with app.stream("GET", f"/status/{job['id']}/stream") as stream:  # no auth headers, as the client
        events = _sse_events("".join(stream.iter_text()))
    names = [name for name, _ in events]
    assert names[-1] == "complete", names
    complete = events[-1][1]
    download = app.get(f"/download/{job['id']}")
    return complete, download


def check_complete(complete: dict[str, Any], download: Any) -> None:
    assert complete["status"] == "completed", complete
    validate(SPEC, "JobResponse", {k: v for k, v in complete.items() if k not in ("job_id", "error")})
    assert complete["job_id"] == complete["id"]
    assert (complete["processed_format"], complete["processed_width"], complete["processed_height"]) == (
        "webp",
        640,
        400,
    )
    assert complete["processed_size"] == len(download.content)
    assert complete["processed_compression_ratio"] > 1
    stages = (complete["executed_compress"], complete["executed_resize"], complete["executed_upscale"])
    assert stages == (True, False, False)
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/webp"
    assert 'filename="holiday.webp"' in download.headers["content-disposition"]
    assert Image.open(io.BytesIO(download.content)).size == (640, 400)
    if complete["executed_tag"]:
        assert complete["seo_alt_text"]
        assert complete["seo_keywords"]
        assert complete["seo_filename"]
    else:  # the ml extra is not installed: no tags, never invented ones
        assert (complete["seo_alt_text"], complete["seo_keywords"]) == (None, None)


def test_guest_client_flow(worked: TestClient) -> None:
    complete, download = client_flow(worked, {})
    check_complete(complete, download)
    assert complete["job_source"] == "guest"
    assert complete["credits_used"] == 1


def test_mcp_client_flow(worked: TestClient, settings: Settings) -> None:
    user = make_tenant(settings, "mcp@example.com")
    start = worked.post("/mcp/auth/device-code").json()
    worked.post("/mcp/auth/approve", json={"user_code": start["user_code"]}, headers=user.bearer)
    token = worked.get("/mcp/auth/token", params={"device_code": start["device_code"]}).json()["mcp_token"]
    mcp = {"Authorization": f"Bearer {token}"}
    complete, download = client_flow(worked, mcp)
    check_complete(complete, download)
    assert complete["job_source"] == "mcp"
    status = worked.get("/mcp/auth/status", headers=mcp).json()
    assert status["credits_remaining"] == 49
    signed = worked.get(f"/download/{complete['id']}/url").json()
    validate(SPEC, "SignedUrlResponse", signed)
    assert (signed["expires_in"], signed["filename"], signed["size"]) == (
        900,
        "holiday.webp",
        len(download.content),
    )
    batch = worked.get("/status", params=[("job_ids", complete["id"]), ("job_ids", complete["id"])]).json()
    validate(SPEC, "BatchStatusResponse", batch)
    one = worked.get(f"/status/{complete['id']}").json()
    validate(SPEC, "StatusResponse", one)
    assert one["download_url"].endswith(f"/download/{complete['id']}")


def test_cleanup_removes_an_expired_job_but_not_the_temp_file_a_later_job_uses(
    worked: TestClient, settings: Settings
) -> None:
    """Cleanup deletes an expired job and its output; the temp file it shares with a live job stays."""
    temp = upload(worked, jpeg()).json()
    auth = {"X-Session-Token": temp["session_token"]}
    body = {"temp_file_ids": [temp["temp_file_id"]]}
    old, new = (worked.post("/compress", json=body, headers=auth).json()["jobs"][0]["id"] for _ in range(2))
    for job_id in (old, new):
        with worked.stream("GET", f"/status/{job_id}/stream") as stream:
            assert _sse_events("".join(stream.iter_text()))[-1][1]["status"] == "completed"
    rt = worked.app.state.runtime  # type: ignore[attr-defined]
    with rt.db.session() as session:
        session.execute(update(Job).where(Job.id == old).values(created_at=utcnow() - timedelta(days=2)))
    ok = {"X-CloudScheduler": "true", "X-Scheduler-Secret": "s3cret"}
    assert worked.post("/internal/cleanup", headers=ok).json() == {
        "success": True,
        "deleted": 1,
        "errors": [],
    }
    assert worked.get(f"/status/{old}").status_code == 404
    assert worked.get(f"/download/{new}").status_code == 200
    again = worked.post("/compress", json=body, headers=auth)
    assert again.status_code == 200, again.text


def test_credits_run_out_with_402_and_nothing_is_created(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(
        tmp_path, database_url, auth_disabled=False, credit_daily={"guest": 2, "free": 50}
    )
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as app:
        first = upload(app, jpeg()).json()
        token = {"X-Session-Token": first["session_token"]}
        ids = [first["temp_file_id"]] + [
            upload(app, jpeg(), **token).json()["temp_file_id"] for _ in range(2)
        ]
        refused = app.post("/auto", json={"temp_file_ids": ids}, headers=token)
        assert refused.status_code == 402
        body = refused.json()
        assert (body["is_guest"], body["credits_remaining"], body["credits_needed"]) == (True, 2, 3)
        assert guest_credits(app, first["session_token"]) == 2
        done = app.post("/auto", json={"temp_file_ids": ids[:2]}, headers=token).json()
        assert (len(done["jobs"]), done["credits_used"], done["credits_remaining"]) == (2, 2, 0)


def test_resize_pad_and_seo_rename(worked: TestClient) -> None:
    temp = upload(worked, jpeg(400, 200)).json()
    auth = {"X-Session-Token": temp["session_token"]}
    body = {"temp_file_ids": [temp["temp_file_id"]], "width": 100, "height": 100, "output_format": "png"}
    job = worked.post("/resize", json=body, headers=auth).json()["jobs"][0]
    with worked.stream("GET", f"/status/{job['id']}/stream") as stream:
        complete = _sse_events("".join(stream.iter_text()))[-1][1]
    assert (complete["status"], complete["processed_width"], complete["processed_height"]) == (
        "completed",
        100,
        100,
    )
    assert (complete["executed_resize"], complete["job_entry_point"], complete["output_resize_behavior"]) == (
        True,
        "resize",
        "pad",
    )
    assert Image.open(io.BytesIO(worked.get(f"/download/{job['id']}").content)).size == (100, 100)


def test_compress_spends_cpu_on_bytes(worked: TestClient) -> None:
    """Tinify sells small files: its JPEGs get the thorough encoder (trellis, progressive scans)."""
    temp = upload(worked, jpeg(640, 400)).json()
    auth = {"X-Session-Token": temp["session_token"]}
    body = {"temp_file_ids": [temp["temp_file_id"]], "output_format": "jpg"}
    job = worked.post("/compress", json=body, headers=auth).json()["jobs"][0]
    with worked.stream("GET", f"/status/{job['id']}/stream") as stream:
        complete = _sse_events("".join(stream.iter_text()))[-1][1]
    assert complete["status"] == "completed", complete
    image = Image.open(io.BytesIO(worked.get(f"/download/{job['id']}").content))
    assert (image.format, image.info.get("progressive")) == ("JPEG", 1)


def test_every_operation_of_the_contract_is_served(app: TestClient) -> None:
    """Each path and method in the contract is an operation of ours (OPTIONS included)."""
    contract = json.loads((Path(__file__).resolve().parents[2] / "specs" / SPEC).read_text())
    ours = app.app.openapi()["paths"]  # type: ignore[attr-defined]
    wanted = {(path, method) for path, ops in contract["paths"].items() for method in ops}
    served = {(path, method) for path, ops in ours.items() for method in ops}
    assert sorted(wanted - served) == []
