"""The Ifolor face's jobs, cancel and workflow cancel over HTTP, every body checked against the contract."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from tests.accounts import Tenant
from tests.conftest import make_settings, wait_for
from tests.contract import SPECS, validate

from mediaforge.app import create_app
from mediaforge.clock import utcnow
from mediaforge.config import Settings

SPEC = "ifolor-ai-backend.openapi.json"
UNKNOWN = "6f1c2a4e-0000-4000-8000-000000000000"
NOBODY = "nobody"  # a queue no worker serves: jobs there stay pending


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, auth_disabled=False)


@pytest.fixture
def app(settings: Settings) -> Iterator[TestClient]:
    """The app with an embedded worker of two work processes."""
    with TestClient(create_app(settings, workers=2, run_migrations=False)) as client:
        yield client


def submit(app: TestClient, who: Tenant, **spec: Any) -> dict[str, Any]:
    """A job made through the native API (the same core jobs the Ifolor face shows)."""
    response = app.post(
        "/v1/jobs", json={"type": "debug.sleep", "queue": NOBODY, **spec}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def job(app: TestClient, who: Tenant, job_id: str) -> dict[str, Any]:
    response = app.get(f"/api/jobs/{job_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate(SPEC, "JobResponse", body)
    return body


def detail(response: Any, status: int) -> str:
    """The ``{detail}`` message of an error answer with ``status``, checked against ErrorResponse."""
    assert response.status_code == status, response.text
    body = response.json()
    validate(SPEC, "ErrorResponse", body)
    assert isinstance(body["detail"], str)
    return str(body["detail"])


# --- the surface -------------------------------------------------------------------------------------
def test_every_operation_of_the_contract_is_served(app: TestClient) -> None:
    """Each (method, path) of the Ifolor contract is a route of the app."""
    spec = json.loads((SPECS / SPEC).read_text())
    wanted = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    assert isinstance(app.app, FastAPI)
    served = {(m, r.path) for r in iter_route_contexts(app.app.routes) for m in r.methods or ()}
    assert wanted - served == set()


def test_our_openapi_declares_every_answer_of_the_contract(app: TestClient) -> None:
    """Each operation's status codes in the contract are declared by ours (we add 422)."""
    spec = json.loads((SPECS / SPEC).read_text())
    assert isinstance(app.app, FastAPI)
    ours = app.app.openapi()["paths"]
    missing = {
        (method, path, code)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        for code in op["responses"]
        if code not in ours[path][method]["responses"]
    }
    assert missing == set()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/actions"),
        ("POST", "/api/users/import"),
        ("GET", "/api/jobs"),
        ("GET", f"/api/jobs/{UNKNOWN}"),
        ("POST", f"/api/jobs/{UNKNOWN}/cancel"),
        ("POST", "/api/subscriptions"),
        ("GET", "/api/subscriptions"),
        ("GET", f"/api/subscriptions/{UNKNOWN}"),
        ("DELETE", f"/api/subscriptions/{UNKNOWN}"),
        ("POST", f"/api/workflows/{UNKNOWN}/cancel"),
    ],
)
def test_every_route_wants_an_api_key(app: TestClient, method: str, path: str) -> None:
    """Without a key, or with a wrong one, every operation answers 401 ``{detail}``."""
    assert "X-API-Key" in detail(app.request(method, path), 401)
    detail(app.request(method, path, headers={"X-API-Key": "mfk_wrong_key"}), 401)


def test_a_bearer_token_is_accepted_like_the_api_key(app: TestClient, alice: Tenant) -> None:
    """``Authorization: Bearer <key>`` reaches the same jobs as ``X-API-Key``."""
    made = submit(app, alice)
    assert job(app, alice, made["id"]) == app.get(f"/api/jobs/{made['id']}", headers=alice.bearer).json()


# --- reading jobs ------------------------------------------------------------------------------------
def test_a_pending_job_reads_in_ifolor_words(app: TestClient, alice: Tenant) -> None:
    """A queued core job is ``pending``, names its dispatch, and has no timing or children yet."""
    made = submit(app, alice, params={"seconds": 1})
    body = job(app, alice, made["id"])
    assert {
        "status": "pending",
        "celery_task_id": made["id"],
        "celery_task_name": "debug.sleep",
        "job_type": "debug.sleep",
        "progress_percent": 0,
        "retry_count": 0,
        "cancellation_requested": False,
        "queue": NOBODY,
        "started_at": None,
        "completed_at": None,
        "processing_time_ms": None,
        "error_message": None,
        "children_summary": None,
    }.items() <= body.items()


def test_a_finished_job_has_its_result_and_timing(app: TestClient, alice: Tenant) -> None:
    """A succeeded job is ``completed`` at 100 % with its result, start, end and processing time."""
    made = submit(app, alice, queue="default", params={"seconds": 0.2, "echo": {"k": "v"}})
    wait_for(app, made["id"], **alice.headers)
    body = job(app, alice, made["id"])
    assert (body["status"], body["progress_percent"], body["result"]["echo"]) == (
        "completed",
        100,
        {"k": "v"},
    )
    assert body["processing_time_ms"] >= 200
    assert body["started_at"] <= body["completed_at"]


def test_a_failed_job_carries_its_error_message(app: TestClient, alice: Tenant) -> None:
    """A job that failed for good is ``failed`` with the core's error message."""
    made = submit(app, alice, queue="default", params={"fail_permanently": True})
    wait_for(app, made["id"], **alice.headers)
    body = job(app, alice, made["id"])
    assert (body["status"], body["error_message"]) == ("failed", "debug.sleep asked to fail permanently")


def test_children_summary_sums_to_total_with_cancelled_counted_as_failed(
    app: TestClient, alice: Tenant
) -> None:
    """A parent's four buckets sum to total; a cancelled child is ``failed``, progress follows the settled."""
    children = [{"type": "debug.sleep", "queue": NOBODY} for _ in range(4)]
    parent = submit(app, alice, type="debug.noop", queue=None, children=children)
    kids = app.get("/api/jobs", params={"page_size": 100}, headers=alice.headers).json()["items"]
    child_ids = [k["id"] for k in kids if k["parent_id"] == parent["id"]]
    assert app.post(f"/api/jobs/{child_ids[0]}/cancel", headers=alice.headers).status_code == 200
    body = job(app, alice, parent["id"])
    summary = body["children_summary"]
    assert summary == {"total": 4, "pending": 3, "processing": 0, "completed": 0, "failed": 1}
    assert (body["status"], body["progress_percent"]) == ("processing", 25)
    assert body["started_at"] == body["created_at"]


def test_another_tenants_job_is_not_found(app: TestClient, alice: Tenant, bob: Tenant) -> None:
    """Bob cannot read, cancel or list Alice's job: each is a 404 or an empty page."""
    made = submit(app, alice)
    detail(app.get(f"/api/jobs/{made['id']}", headers=bob.headers), 404)
    detail(app.post(f"/api/jobs/{made['id']}/cancel", headers=bob.headers), 404)
    detail(app.post(f"/api/workflows/{made['id']}/cancel", headers=bob.headers), 404)
    listed = app.get("/api/jobs", headers=bob.headers).json()
    assert (listed["total"], listed["items"]) == (0, [])
    assert job(app, alice, made["id"])["status"] == "pending"


def test_malformed_ids_are_422_and_unknown_ids_404(app: TestClient, alice: Tenant) -> None:
    """A job id that is not a UUID fails validation (Ninja's 422); an unknown one is 404 ``{detail}``."""
    response = app.get("/api/jobs/not-a-uuid", headers=alice.headers)
    assert (response.status_code, type(response.json()["detail"])) == (422, list)
    assert UNKNOWN in detail(app.get(f"/api/jobs/{UNKNOWN}", headers=alice.headers), 404)


# --- listing -----------------------------------------------------------------------------------------
def test_pages_are_newest_first_with_the_unpaged_total(app: TestClient, alice: Tenant) -> None:
    """page / page_size slice the newest-first list; every page reports the same total."""
    made = [submit(app, alice, params={"echo": {"n": i}})["id"] for i in range(5)]
    pages = []
    for page in (1, 2, 3):
        response = app.get("/api/jobs", params={"page": page, "page_size": 2}, headers=alice.headers)
        body = response.json()
        validate(SPEC, "JobListResponse", body)
        pages.append(body)
    assert [[j["id"] for j in p["items"]] for p in pages] == [made[:2:-1], made[2:0:-1], made[:1]]
    assert {(p["total"], p["page_size"]) for p in pages} == {(5, 2)}
    assert [p["page"] for p in pages] == [1, 2, 3]


@pytest.mark.parametrize(
    "params", [{"page": 0}, {"page_size": 0}, {"page_size": 101}], ids=["page-0", "size-0", "size-101"]
)
def test_out_of_range_paging_fails_validation(app: TestClient, alice: Tenant, params: dict[str, int]) -> None:
    """page ≥ 1 and 1 ≤ page_size ≤ 100, as the contract bounds them (Ninja's 422)."""
    assert app.get("/api/jobs", params=params, headers=alice.headers).status_code == 422


def test_filters_by_status_type_and_creation_time(app: TestClient, alice: Tenant) -> None:
    """status and job_type use Ifolor's words; created_after / created_before bound the creation time."""
    sleeping = submit(app, alice)
    noop = submit(app, alice, type="debug.noop")
    cancelled = submit(app, alice)
    app.post(f"/api/jobs/{cancelled['id']}/cancel", headers=alice.headers)

    def ids(**params: str) -> list[str]:
        body = app.get("/api/jobs", params=params, headers=alice.headers).json()
        validate(SPEC, "JobListResponse", body)
        return [j["id"] for j in body["items"]]

    later = (utcnow() + timedelta(minutes=1)).isoformat()
    assert ids(status="pending") == [noop["id"], sleeping["id"]]
    assert ids(status="cancelled") == [cancelled["id"]]
    assert ids(status="running") == []  # not an Ifolor word
    assert ids(job_type="debug.noop") == [noop["id"]]
    assert ids(job_type="debug.sleep", status="pending") == [sleeping["id"]]
    assert ids(created_after=later) == []
    assert len(ids(created_before=later)) == 3
    assert ids(created_after=noop["created_at"]) == [cancelled["id"]]


# --- cancel ------------------------------------------------------------------------------------------
def test_cancelling_a_pending_job_is_immediate_and_idempotent(app: TestClient, alice: Tenant) -> None:
    """A pending job is cancelled at once; cancelling it again answers 200 the same way."""
    made = submit(app, alice)
    answers = [app.post(f"/api/jobs/{made['id']}/cancel", headers=alice.headers) for _ in range(2)]
    for response in answers:
        assert response.status_code == 200, response.text
        validate(SPEC, "JobCancelResponse", response.json())
    first, second = (r.json() for r in answers)
    assert (first["id"], first["status"], first["cancellation_requested"]) == (made["id"], "cancelled", True)
    assert (second["status"], second["message"]) == ("cancelled", "Job was already cancelled")
    assert job(app, alice, made["id"])["cancellation_requested"] is True


def test_cancelling_a_running_job_is_cooperative(app: TestClient, alice: Tenant) -> None:
    """A running job answers ``processing`` with the flag set, then stops as ``cancelled``."""
    made = submit(app, alice, queue="default", params={"seconds": 20})
    deadline = time.monotonic() + 30
    while job(app, alice, made["id"])["status"] != "processing":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)
    response = app.post(f"/api/jobs/{made['id']}/cancel", headers=alice.headers)
    body = response.json()
    validate(SPEC, "JobCancelResponse", body)
    assert (body["status"], body["cancellation_requested"]) == ("processing", True)
    assert "stops at its next check" in body["message"]
    wait_for(app, made["id"], **alice.headers)
    assert job(app, alice, made["id"])["status"] == "cancelled"


def test_cancelling_a_finished_job_is_400(app: TestClient, alice: Tenant) -> None:
    """A completed job cannot be cancelled: 400 ``{detail}`` naming its status."""
    made = submit(app, alice, queue="default", type="debug.noop")
    wait_for(app, made["id"], **alice.headers)
    assert "completed" in detail(app.post(f"/api/jobs/{made['id']}/cancel", headers=alice.headers), 400)
    detail(app.post(f"/api/jobs/{UNKNOWN}/cancel", headers=alice.headers), 404)


# --- workflow cancel ---------------------------------------------------------------------------------
def test_cancelling_a_workflow_stops_the_parent_and_its_unsettled_branches(
    app: TestClient, alice: Tenant
) -> None:
    """The workflow id is the parent job's: it and every unsettled child end ``cancelled``."""
    children = [{"type": "debug.sleep", "queue": NOBODY} for _ in range(3)]
    parent = submit(app, alice, type="debug.noop", queue=None, children=children)
    response = app.post(f"/api/workflows/{parent['id']}/cancel", headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    validate(SPEC, "WorkflowCancelResponse", body)
    assert (body["id"], body["status"]) == (parent["id"], "cancelled")
    summary = job(app, alice, parent["id"])["children_summary"]
    assert summary == {"total": 3, "pending": 0, "processing": 0, "completed": 0, "failed": 3}
    again = app.post(f"/api/workflows/{parent['id']}/cancel", headers=alice.headers)
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")


def test_cancelling_a_finished_workflow_is_400(app: TestClient, alice: Tenant) -> None:
    """A parent whose children all completed is terminal: 400; an unknown id is 404."""
    parent = submit(app, alice, type="debug.noop", queue=None, children=[{"type": "debug.noop"}])
    wait_for(app, parent["id"], **alice.headers)
    detail(app.post(f"/api/workflows/{parent['id']}/cancel", headers=alice.headers), 400)
    detail(app.post(f"/api/workflows/{UNKNOWN}/cancel", headers=alice.headers), 404)


def test_a_core_dag_workflow_can_be_cancelled_by_its_id(app: TestClient, alice: Tenant) -> None:
    """A native workflow id is a workflow too: it and its running steps are cancelled."""
    spec = {"name": "two", "steps": [{"id": "a", "type": "debug.sleep", "queue": NOBODY}]}
    made = app.post("/v1/workflows", json=spec, headers=alice.headers)
    assert made.status_code == 201, made.text
    response = app.post(f"/api/workflows/{made.json()['id']}/cancel", headers=alice.headers)
    body = response.json()
    validate(SPEC, "WorkflowCancelResponse", body)
    assert body["status"] == "cancelled"
    assert app.get(f"/v1/workflows/{body['id']}", headers=alice.headers).json()["status"] == "cancelled"
