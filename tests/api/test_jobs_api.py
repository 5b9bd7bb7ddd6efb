"""The native ``/v1/jobs`` API over HTTP: submit, read, long-poll, list, cancel, retry, fan out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.accounts import Tenant
from tests.conftest import wait_for

NOBODY = "nobody"


def submit(client: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=body, headers=headers)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def sleep_job(seconds: float = 0.0, **params: Any) -> dict[str, Any]:
    return {"type": "debug.sleep", "params": {"seconds": seconds, **params}}


def poll(
    client: TestClient,
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout: float = 10.0,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Read the job until ``until`` holds, keeping every observation in ``seen``."""
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if seen is not None:
            seen.append(view)
        if until(view) or time.monotonic() > deadline:
            return view
        time.sleep(0.02)


def running(view: dict[str, Any]) -> bool:
    return view["status"] == "running"


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- submitting and reading ----------------------------------------------------------------
def test_submitted_job_succeeds_with_its_result(client: TestClient) -> None:
    """A submitted job runs on the embedded worker and the long-poll returns its result."""
    job = submit(client, sleep_job(0.05, echo={"n": 5}))
    done = wait_for(client, job["id"])
    result = {"slept": 0.05, "attempt": 1, "echo": {"n": 5}, "inputs": [], "allocated_mb": 0}
    expected = ("succeeded", result, 100.0)
    assert expected == (done["status"], done["result"], done["progress"])


def test_invalid_params_are_422(api_only: TestClient) -> None:
    """Params that fail the processor's schema are a 422 ``invalid_params`` naming the field."""
    response = api_only.post("/v1/jobs", json=sleep_job(-1))
    assert error_of(response) == (422, "invalid_params")
    assert response.json()["error"]["details"][0]["loc"] == ["seconds"]


def test_unknown_type_is_400(api_only: TestClient) -> None:
    """A job type no processor provides is a 400 ``unknown_processor``."""
    response = api_only.post("/v1/jobs", json={"type": "no.such.thing"})
    assert error_of(response) == (400, "unknown_processor")


def test_unknown_input_asset_is_422(api_only: TestClient) -> None:
    """An input asset id that does not exist is a 422 ``unknown_asset``."""
    response = api_only.post("/v1/jobs", json={"type": "image.info", "inputs": ["no-such-asset"]})
    assert error_of(response) == (422, "unknown_asset")


def test_unknown_job_is_404(api_only: TestClient) -> None:
    """Reading a job id that does not exist is a 404 ``job_not_found``."""
    assert error_of(api_only.get("/v1/jobs/no-such-job")) == (404, "job_not_found")


def test_another_tenants_job_is_404(tenants: TestClient, alice: Tenant, bob: Tenant) -> None:
    """Bob cannot read or cancel Alice's job: to him it does not exist."""
    job = submit(tenants, {"type": "debug.noop", "queue": NOBODY}, **alice.headers)
    read = tenants.get(f"/v1/jobs/{job['id']}", headers=bob.headers)
    cancel = tenants.post(f"/v1/jobs/{job['id']}/cancel", headers=bob.headers)
    assert [error_of(read), error_of(cancel)] == [(404, "job_not_found")] * 2


def test_bearer_token_is_accepted(tenants: TestClient, alice: Tenant) -> None:
    """``Authorization: Bearer`` identifies the same owner as ``X-API-Key``."""
    job = submit(tenants, {"type": "debug.noop", "queue": NOBODY}, **alice.headers)
    response = tenants.get(f"/v1/jobs/{job['id']}", headers=alice.bearer)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "unauthorized"), ("wrong-key", "invalid_credentials")],
    ids=["no-key", "wrong-key"],
)
def test_missing_or_wrong_api_key_is_401(tenants: TestClient, key: str | None, code: str) -> None:
    """With auth on, a request without a key or with one the server never issued is a 401."""
    headers = {"X-API-Key": key} if key else {}
    assert error_of(tenants.get("/v1/jobs", headers=headers)) == (401, code)


@pytest.mark.parametrize("where", ["body", "header"])
def test_idempotency_key_returns_the_first_job(api_only: TestClient, where: str) -> None:
    """Submitting twice with one idempotency key (body or header) creates one job; the replay is a 200."""
    body = {"type": "debug.noop", "queue": NOBODY}
    headers = {}
    if where == "body":
        body["idempotency_key"] = "order-42"
    else:
        headers["Idempotency-Key"] = "order-42"
    first = api_only.post("/v1/jobs", json=body, headers=headers)
    second = api_only.post("/v1/jobs", json=body, headers=headers)
    listed = api_only.get("/v1/jobs").json()["items"]
    expected = (201, 200, first.json()["id"], 1)
    assert expected == (first.status_code, second.status_code, second.json()["id"], len(listed))


def test_idempotency_keys_are_per_tenant(tenants: TestClient, alice: Tenant, bob: Tenant) -> None:
    """Two tenants using the same idempotency key each get their own job."""
    body = {"type": "debug.noop", "queue": NOBODY, "idempotency_key": "order-42"}
    hers = tenants.post("/v1/jobs", json=body, headers=alice.headers)
    his = tenants.post("/v1/jobs", json=body, headers=bob.headers)
    assert (hers.status_code, his.status_code) == (201, 201)
    assert hers.json()["id"] != his.json()["id"]


# --- cancelling ----------------------------------------------------------------------------
def test_cancel_queued_job_is_immediate(client: TestClient) -> None:
    """A queued job is cancelled at once, in the response itself."""
    job = submit(client, {"type": "debug.noop", "queue": NOBODY})
    response = client.post(f"/v1/jobs/{job['id']}/cancel")
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")


def test_cancel_running_job_cooperatively(client: TestClient) -> None:
    """A running job that checks for cancellation stops within about two seconds."""
    job = submit(client, sleep_job(5))
    assert running(poll(client, job["id"], running))
    started = time.monotonic()
    requested = client.post(f"/v1/jobs/{job['id']}/cancel").json()
    done = wait_for(client, job["id"], timeout=4)
    assert (requested["cancel_requested"], done["status"], done["error"]) == (True, "cancelled", None)
    assert time.monotonic() - started < 2.0


def test_cancel_running_job_that_ignores_it_is_killed(client: TestClient) -> None:
    """A running job that never checks for cancellation is killed after the grace period."""
    job = submit(client, sleep_job(5, ignore_cancel=True))
    assert running(poll(client, job["id"], running))
    started = time.monotonic()
    client.post(f"/v1/jobs/{job['id']}/cancel")
    done = wait_for(client, job["id"], timeout=4)
    assert done["status"] == "cancelled"
    assert time.monotonic() - started < 3.5


def test_cancel_waiting_parent_cancels_its_children(client: TestClient) -> None:
    """Cancelling a parent waiting on its children cancels the parent and every child."""
    child = {"type": "debug.noop", "queue": NOBODY}
    parent = submit(client, {"type": "debug.noop", "queue": NOBODY, "children": [child] * 3})
    cancelled = client.post(f"/v1/jobs/{parent['id']}/cancel").json()
    children = client.get("/v1/jobs", params={"parent_id": parent["id"]}).json()["items"]
    expected = ("waiting", "cancelled", ["cancelled"] * 3)
    assert expected == (parent["status"], cancelled["status"], [c["status"] for c in children])


def test_cancel_cancelled_job_again_is_200(api_only: TestClient) -> None:
    """Cancelling an already-cancelled job is a harmless 200."""
    job = submit(api_only, {"type": "debug.noop"})
    api_only.post(f"/v1/jobs/{job['id']}/cancel")
    again = api_only.post(f"/v1/jobs/{job['id']}/cancel")
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")


def test_cancel_succeeded_job_is_409(client: TestClient) -> None:
    """A job that already succeeded cannot be cancelled: 409 ``job_finished``."""
    job = submit(client, {"type": "debug.noop"})
    assert wait_for(client, job["id"])["status"] == "succeeded"
    assert error_of(client.post(f"/v1/jobs/{job['id']}/cancel")) == (409, "job_finished")


# --- failing and retrying ------------------------------------------------------------------
def test_failed_attempts_are_retried_with_backoff(client: TestClient) -> None:
    """A job failing its first two attempts succeeds on the third."""
    job = submit(client, {**sleep_job(0, fail_attempts=2), "max_attempts": 3})
    done = wait_for(client, job["id"])
    assert (done["status"], done["attempt"], done["result"]["attempt"]) == ("succeeded", 3, 3)


def test_exhausted_attempts_fail_the_job(client: TestClient) -> None:
    """A job that fails every attempt ends failed after its last one, with the error's type."""
    job = submit(client, {**sleep_job(0, fail=True), "max_attempts": 2})
    done = wait_for(client, job["id"])
    assert (done["status"], done["attempt"], done["error"]["type"]) == ("failed", 2, "RuntimeError")


def test_permanent_failure_is_not_retried(client: TestClient) -> None:
    """A permanent failure ends the job after one attempt despite attempts left."""
    job = submit(client, {**sleep_job(0, fail_permanently=True), "max_attempts": 3})
    done = wait_for(client, job["id"])
    assert (done["status"], done["attempt"], done["error"]["type"]) == ("failed", 1, "debug_failure")


def test_timeout_fails_the_job(client: TestClient) -> None:
    """A job running past ``timeout_seconds`` is killed and fails with error type ``timeout``."""
    job = submit(client, {**sleep_job(3), "timeout_seconds": 0.5, "max_attempts": 3})
    done = wait_for(client, job["id"], timeout=5)
    assert (done["status"], done["attempt"], done["error"]["type"]) == ("failed", 1, "timeout")


def test_manual_retry_runs_a_failed_job_again(client: TestClient) -> None:
    """POST /retry queues a failed job again under the same id, and it succeeds on attempt 2."""
    job = submit(client, {**sleep_job(0, fail_attempts=1), "max_attempts": 1})
    assert wait_for(client, job["id"])["status"] == "failed"
    retried = client.post(f"/v1/jobs/{job['id']}/retry").json()
    done = wait_for(client, job["id"])
    expected = ("queued", None, "succeeded", 2)
    assert expected == (retried["status"], retried["error"], done["status"], done["attempt"])


def test_retry_of_unfinished_job_is_409(api_only: TestClient) -> None:
    """Only failed or cancelled jobs can be retried: a queued one is a 409 ``job_not_retryable``."""
    job = submit(api_only, {"type": "debug.noop"})
    assert error_of(api_only.post(f"/v1/jobs/{job['id']}/retry")) == (409, "job_not_retryable")


# --- children ------------------------------------------------------------------------------
def test_children_summary_adds_up_at_every_observation(client: TestClient) -> None:
    """While six failing children run, every view's summary buckets add up to a total of six."""
    params = {"count": 6, "child_params": {"seconds": 0.1, "fail_permanently": True}}
    job = submit(client, {"type": "debug.fan_out", "params": params})
    seen: list[dict[str, Any]] = []
    done = poll(client, job["id"], lambda v: v["status"] in ("succeeded", "failed"), timeout=20, seen=seen)
    summaries = [v["children"] for v in seen if v["children"] is not None]
    sums = {(s["total"], s["pending"] + s["processing"] + s["completed"] + s["failed"]) for s in summaries}
    expected_end = (
        "failed",
        "children_failed",
        {"total": 6, "pending": 0, "processing": 0, "completed": 0, "failed": 6},
    )
    assert expected_end == (done["status"], done["error"]["type"], done["children"])
    assert {(6, 6)} == sums


def test_submitted_children_all_complete(client: TestClient) -> None:
    """A parent submitted with three children succeeds once they all have."""
    parent = submit(client, {"type": "debug.noop", "children": [sleep_job(0.05)] * 3})
    done = wait_for(client, parent["id"])
    expected = ("succeeded", {"total": 3, "pending": 0, "processing": 0, "completed": 3, "failed": 0})
    assert expected == (done["status"], done["children"])


# --- long-poll, listing, progress ----------------------------------------------------------
def test_long_poll_on_queued_job_returns_after_the_wait(client: TestClient) -> None:
    """``?wait=1`` on a job no worker serves answers after a second with its place and the reason."""
    job = submit(client, {"type": "debug.noop", "queue": NOBODY})
    started = time.monotonic()
    view = client.get(f"/v1/jobs/{job['id']}", params={"wait": 1}).json()
    elapsed = time.monotonic() - started
    assert (view["status"], view["queue_position"], view["waiting_reason"]) == ("queued", 0, "no_worker")
    assert 1.0 <= elapsed < 3.0


def test_list_filters_by_status_and_pages_with_a_cursor(api_only: TestClient) -> None:
    """Listing queued jobs two at a time walks five jobs in three pages, newest first, no repeats."""
    ids = [submit(api_only, {"type": "debug.noop"})["id"] for _ in range(6)]
    api_only.post(f"/v1/jobs/{ids.pop(2)}/cancel")
    pages: list[list[str]] = []
    cursor = None
    while True:
        params = {"status": "queued", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api_only.get("/v1/jobs", params=params).json()
        pages.append([j["id"] for j in page["items"]])
        if not (cursor := page["next_cursor"]):
            break
    expected = [ids[4:2:-1], ids[2:0:-1], ids[:1]]
    assert expected == pages


def test_invalid_cursor_is_400(api_only: TestClient) -> None:
    """A cursor the server did not issue is a 400 ``invalid_cursor``."""
    assert error_of(api_only.get("/v1/jobs", params={"cursor": "garbage"})) == (400, "invalid_cursor")


def test_progress_is_reported_while_running(client: TestClient) -> None:
    """A one-second job shows progress strictly between 0 and 100 while running, and 100 at the end."""
    job = submit(client, sleep_job(1))
    midway = poll(
        client,
        job["id"],
        lambda v: (v["status"] != "queued" and 0 < v["progress"] < 100) or v["status"] == "succeeded",
    )
    done = wait_for(client, job["id"])
    assert midway["status"] == "running"
    assert 0 < midway["progress"] < 100
    assert (done["status"], done["progress"]) == ("succeeded", 100.0)


def test_webhook_url_on_a_private_address_is_refused(api_only: TestClient) -> None:
    """A job's webhook_url goes through the SSRF guard when the job is created."""
    response = api_only.post(
        "/v1/jobs", json={"type": "debug.noop", "webhook_url": "http://169.254.169.254/x"}
    )
    assert error_of(response) == (400, "url_blocked")
