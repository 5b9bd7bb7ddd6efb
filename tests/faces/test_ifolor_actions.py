"""Ifolor's import and actions end to end: images served by a local HTTP server on 127.0.0.1
(allow-listed), downloaded and analysed by the embedded workers, then the four actions on them.
Every body is checked against the contract."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from tests.accounts import Tenant, make_tenant
from tests.conftest import make_settings
from tests.contract import validate
from tests.photos import jpeg

from mediaforge.app import create_app
from mediaforge.config import Settings

SPEC = "ifolor-ai-backend.openapi.json"
TAKEN = datetime(2024, 6, 1, 10, 0, 0)
METADATA_URL = "http://169.254.169.254/latest/meta-data/iam"


class ImageServer:
    """Serves a folder over HTTP on 127.0.0.1 (POSTs, as to an LLM, get 501)."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(_Quiet, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def scene(seed: int) -> Image.Image:
    """A distinct 480x360 picture: smooth colour field, shapes and grain from ``seed``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:360, 0:480]
    base = np.stack(
        [(x * rng.uniform(0.2, 0.5) + y * rng.uniform(0, 0.4) + rng.uniform(0, 120)) % 256 for _ in range(3)],
        axis=-1,
    )
    image = Image.fromarray(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x0, y0 = int(rng.integers(0, 400)), int(rng.integers(0, 300))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x0, y0, x0 + int(rng.integers(20, 120)), y0 + int(rng.integers(20, 120))), fill=colour)
    return image


@pytest.fixture
def images(tmp_path: Path) -> Iterator[ImageServer]:
    """``a.jpg`` .. ``d.jpg``: four scenes an hour apart, and ``a-copy.jpg`` the same bytes as ``a``."""
    folder = tmp_path / "served"
    folder.mkdir()
    for index, name in enumerate("abcd"):
        data = jpeg(scene(index), taken_at=TAKEN + timedelta(hours=index), gps=(47.3769, 8.5417))
        (folder / f"{name}.jpg").write_bytes(data)
    (folder / "a-copy.jpg").write_bytes((folder / "a.jpg").read_bytes())
    server = ImageServer(folder)
    yield server
    server.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str, images: ImageServer) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        auth_disabled=False,
        fetch_allow_hosts=f"127.0.0.1:{images.port}",
        photos_faces=False,
        text_llm_base_url=images.url("v1"),
        text_llm_model="nobody",
    )


@pytest.fixture
def alice(settings: Settings) -> Tenant:
    return make_tenant(settings, "alice@example.com")


@pytest.fixture
def api(settings: Settings, alice: Tenant) -> Iterator[TestClient]:
    """The app with two work processes, calling as Alice."""
    with TestClient(create_app(settings, workers=2, run_migrations=False), headers=alice.headers) as client:
        yield client


def info(images: ImageServer, image_id: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"original_image_id": image_id, "download_uri": images.url(name or f"{image_id}.jpg"), **extra}


def read_job(api: TestClient, job_id: str) -> dict[str, Any]:
    response = api.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate(SPEC, "JobResponse", body)
    return body


def settled(
    api: TestClient, job_id: str, timeout: float = 60.0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll a parent until every child settled; returns its last read and every summary seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        body = read_job(api, job_id)
        summary = body["children_summary"]
        seen.append(summary)
        if summary["pending"] + summary["processing"] == 0 and body["status"] != "processing":
            return body, seen
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def finished(api: TestClient, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (body := read_job(api, job_id))["status"] in ("pending", "processing"):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    return body


def imported(api: TestClient, images: ImageServer, user_id: str, ids: str = "abcd") -> dict[str, Any]:
    infos = [info(images, i) for i in ids] + [info(images, "a-copy")]
    response = api.post("/api/users/import", json={"user_id": user_id, "image_download_infos": infos})
    assert response.status_code == 202, response.text
    body, _ = settled(api, response.json()["id"])
    assert body["children_summary"]["completed"] == len(infos), body
    return body


def action(api: TestClient, user_id: str, name: str, status: int = 200, **params: Any) -> dict[str, Any]:
    response = api.post("/api/actions", json={"user_id": user_id, "action": name, "params": params})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    validate(SPEC, {200: "ActionResponse", 202: "AsyncActionResponse"}.get(status, "ErrorResponse"), body)
    return body


# --- import ------------------------------------------------------------------------------------------
def test_import_fans_out_one_child_per_image_and_the_summary_always_sums(
    api: TestClient, images: ImageServer
) -> None:
    """Three downloads succeed, one to the metadata address is refused: that child fails alone,
    every summary read sums to total, and the parent completes at 100 %."""
    infos = [
        info(images, "a", metadata={"album": "summer"}, uploaded_at="2024-06-02T08:00:00Z"),
        info(images, "b"),
        info(images, "c"),
        {"original_image_id": "evil", "download_uri": METADATA_URL},
    ]
    response = api.post("/api/users/import", json={"user_id": "u-1", "image_download_infos": infos})
    assert response.status_code == 202, response.text
    first = response.json()
    validate(SPEC, "JobResponse", first)
    assert (first["job_type"], first["celery_task_name"], first["children_summary"]["total"]) == (
        "import_user_images",
        "photo.import",
        4,
    )
    parent, seen = settled(api, first["id"])
    assert all(sum(s[k] for k in ("pending", "processing", "completed", "failed")) == 4 for s in seen)
    assert parent["children_summary"] == {
        "total": 4,
        "pending": 0,
        "processing": 0,
        "completed": 3,
        "failed": 1,
    }
    assert (parent["status"], parent["progress_percent"]) == ("completed", 100)
    assert parent["metadata"]["source_type"] == "minio"
    listed = api.get("/api/jobs", params={"job_type": "import_user_image", "page_size": 10}).json()
    validate(SPEC, "JobListResponse", listed)
    children = {c["metadata"]["image_id"]: c for c in listed["items"]}
    assert set(children) == {"a", "b", "c", "evil"}
    assert {c["parent_id"] for c in children.values()} == {first["id"]}
    assert children["evil"]["status"] == "failed"
    assert "169.254.169.254" in children["evil"]["error_message"]
    assert children["a"]["metadata"]["metadata"] == {"album": "summer"}
    assert children["a"]["metadata"]["uploaded_at"].startswith("2024-06-02T08:00:00")


def test_image_ids_select_from_the_download_infos(api: TestClient, images: ImageServer) -> None:
    """With both lists, only the download infos whose id is in ``image_ids`` are imported."""
    body = {
        "user_id": "u-2",
        "image_ids": ["b"],
        "image_download_infos": [info(images, "a"), info(images, "b")],
    }
    response = api.post("/api/users/import", json=body)
    assert response.status_code == 202, response.text
    parent, _ = settled(api, response.json()["id"])
    assert parent["children_summary"]["total"] == 1


def test_an_empty_import_completes_with_no_children(api: TestClient) -> None:
    """An empty list makes a parent that completes at once with every bucket at 0."""
    response = api.post("/api/users/import", json={"user_id": "u-3", "image_download_infos": []})
    assert response.status_code in (200, 202), response.text
    body = finished(api, response.json()["id"])
    assert (body["status"], body["progress_percent"]) == ("completed", 100)
    assert body["children_summary"] == {
        "total": 0,
        "pending": 0,
        "processing": 0,
        "completed": 0,
        "failed": 0,
    }


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "image_download_infos"),
        ({"image_ids": ["a"]}, "image_ids alone"),
        (
            {
                "image_download_infos": [
                    {"original_image_id": "a", "download_uri": "x", "uploaded_at": "soon"}
                ]
            },
            "uploaded_at",
        ),
    ],
    ids=["nothing", "image-ids-only", "bad-date"],
)
def test_imports_that_cannot_be_done_are_400(api: TestClient, body: dict[str, Any], says: str) -> None:
    """Nothing to import, ids without a source to look them up in, or a bad date: 400 ``{detail}``."""
    response = api.post("/api/users/import", json={"user_id": "u-4", **body})
    assert response.status_code == 400, response.text
    validate(SPEC, "ErrorResponse", response.json())
    assert says in response.json()["detail"]
    assert api.get("/api/jobs").json()["total"] == 0


# --- actions -----------------------------------------------------------------------------------------
def test_duplicates_are_found_synchronously(api: TestClient, images: ImageServer) -> None:
    """DETECT_DUPLICATES answers 200 at once, grouping the byte-identical copy with its original."""
    imported(api, images, "u-5")
    body = action(api, "u-5", "DETECT_DUPLICATES")
    groups = [set(g["image_ids"]) for g in body["result"]["groups"]]
    assert (body["action"], groups) == ("DETECT_DUPLICATES", [{"a", "a-copy"}])


def test_a_photobook_runs_as_a_job(api: TestClient, images: ImageServer) -> None:
    """SUGGEST_PHOTOBOOK answers 202 with a job whose result is the book, typed in Ifolor's words."""
    imported(api, images, "u-6")
    started = action(api, "u-6", "SUGGEST_PHOTOBOOK", 202, min_pages=1)
    assert (started["action"], started["status"]) == ("SUGGEST_PHOTOBOOK", "pending")
    job = finished(api, started["job_id"])
    assert (job["status"], job["job_type"], job["celery_task_name"]) == (
        "completed",
        "suggest_photobook",
        "photo.suggest_photobook",
    )
    assert job["result"]["chapters"]


def test_an_unknown_user_or_image_is_404(api: TestClient, images: ImageServer) -> None:
    """Actions on a user with no imported photos, or on an image never imported, are 404 ``{detail}``."""
    action(api, "nobody", "DETECT_DUPLICATES", 404)
    imported(api, images, "u-7", ids="ab")
    assert "zzz" in action(api, "u-7", "SUGGEST_ALTERNATIVE_IMAGES", 404, image_id="zzz")["detail"]


def test_bad_params_are_400_and_an_unknown_action_422(api: TestClient, images: ImageServer) -> None:
    """Params each action's model refuses are a 400; an action outside the enum fails validation."""
    imported(api, images, "u-8", ids="ab")
    assert "sensitivity" in action(api, "u-8", "DETECT_DUPLICATES", 400, sensitivity=5)["detail"]
    response = api.post("/api/actions", json={"user_id": "u-8", "action": "MAKE_COFFEE", "params": {}})
    assert response.status_code == 422


def test_a_failing_text_provider_is_502(api: TestClient, images: ImageServer) -> None:
    """SUGGEST_TEXT with its LLM answering an error is a 502 ``{detail}``, and the server stays up."""
    imported(api, images, "u-9", ids="ab")
    assert "text provider" in action(api, "u-9", "SUGGEST_TEXT", 502)["detail"]
    assert api.get("/health").status_code == 200
