"""The native ``/v1/workflows`` API over HTTP: validation, ordering, mappings, failure, cancel, resume."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.accounts import Tenant
from tests.conftest import wait_for


def step(id: str, *depends_on: str, type: str = "debug.sleep", **params: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "params": params, "depends_on": list(depends_on)}


def submit(client: TestClient, *steps: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/workflows", json={"name": "test", "steps": list(steps)})
    assert response.status_code == 201, response.text
    wf: dict[str, Any] = response.json()
    return wf


def finished(wf: dict[str, Any]) -> bool:
    return wf["status"] != "running"


def poll(
    client: TestClient,
    wf_id: str,
    until: Callable[[dict[str, Any]], bool] = finished,
    timeout: float = 20.0,
) -> dict[str, Any]:
    """Read the workflow until ``until`` holds (by default: it has finished)."""
    deadline = time.monotonic() + timeout
    while True:
        wf: dict[str, Any] = client.get(f"/v1/workflows/{wf_id}").json()
        if until(wf) or time.monotonic() > deadline:
            return wf
        time.sleep(0.02)


def steps_of(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in wf["steps"]}


def job(client: TestClient, job_id: str) -> dict[str, Any]:
    view: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
    return view


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([step("a", "c"), step("b", "a"), step("c", "b")], id="cycle"),
        pytest.param([step("a"), step("b", "nope")], id="unknown-dependency"),
        pytest.param(
            [step("a"), {**step("b"), "mappings": [{"from_step": "a", "field": "echo", "param": "echo"}]}],
            id="mapping-from-non-ancestor",
        ),
    ],
)
def test_invalid_dag_is_400(api_only: TestClient, steps: list[dict[str, Any]]) -> None:
    """A cycle, an unknown dependency or a mapping from a non-ancestor is a 400 ``workflow_invalid``."""
    response = api_only.post("/v1/workflows", json={"steps": steps})
    assert error_of(response) == (400, "workflow_invalid")


def test_unknown_step_type_is_400(api_only: TestClient) -> None:
    """A step whose type no processor provides is a 400 and no workflow is stored."""
    response = api_only.post("/v1/workflows", json={"steps": [step("a"), step("b", "a", type="no.such")]})
    assert error_of(response) == (400, "unknown_processor")
    assert api_only.get("/v1/jobs").json()["items"] == []


def test_unknown_workflow_is_404(api_only: TestClient) -> None:
    """Reading a workflow id that does not exist is a 404 ``workflow_not_found``."""
    assert error_of(api_only.get("/v1/workflows/no-such-workflow")) == (404, "workflow_not_found")


# --- running -------------------------------------------------------------------------------
def test_chain_runs_in_order_with_mapped_params(client: TestClient) -> None:
    """In a chain a -> b -> c each step starts after its parent finished, and b gets a's mapped echo."""
    mapping = {"from_step": "a", "field": "echo", "param": "echo"}
    mapped = {**step("b", "a", seconds=0.05), "mappings": [mapping]}
    wf = poll(client, submit(client, step("a", seconds=0.05, echo={"n": 5}), mapped, step("c", "b"))["id"])
    a, b, c = (job(client, s["job_id"]) for s in wf["steps"])
    assert (wf["status"], [s["status"] for s in wf["steps"]]) == ("succeeded", ["succeeded"] * 3)
    assert at(a["finished_at"]) <= at(b["started_at"])
    assert at(b["finished_at"]) <= at(c["started_at"])
    assert (b["params"]["echo"], b["result"]["echo"]) == ({"n": 5}, {"n": 5})


def test_diamond_joins_after_both_branches(client: TestClient) -> None:
    """In a diamond the join step starts only after both branches finished, taking a value from each."""
    join = {
        **step("d", "b", "c"),
        "mappings": [
            {"from_step": "b", "field": "echo.side", "param": "echo.left"},
            {"from_step": "c", "field": "echo.side", "param": "echo.right"},
        ],
    }
    wf = poll(
        client,
        submit(
            client,
            step("a"),
            step("b", "a", seconds=0.1, echo={"side": "b"}),
            step("c", "a", seconds=0.2, echo={"side": "c"}),
            join,
        )["id"],
    )
    jobs = {sid: job(client, s["job_id"]) for sid, s in steps_of(wf).items()}
    last_branch = max(at(jobs["b"]["finished_at"]), at(jobs["c"]["finished_at"]))
    assert wf["status"] == "succeeded"
    assert last_branch <= at(jobs["d"]["started_at"])
    assert jobs["d"]["result"]["echo"] == {"left": "b", "right": "c"}


def test_failing_step_fails_the_workflow_and_blocks_downstream(client: TestClient) -> None:
    """When a step fails the workflow fails and the step after it never starts."""
    wf = poll(client, submit(client, step("a"), step("b", "a", fail_permanently=True), step("c", "b"))["id"])
    states = {sid: (s["status"], s["job_id"] is None) for sid, s in steps_of(wf).items()}
    expected = {"a": ("succeeded", False), "b": ("failed", False), "c": ("pending", True)}
    assert ("failed", expected) == (wf["status"], states)


def test_step_that_cannot_start_is_failed_with_its_error(client: TestClient) -> None:
    """A step whose mapping finds nothing in its parent's result shows as failed with ``mapping_failed``."""
    missing = {**step("b", "a"), "mappings": [{"from_step": "a", "field": "echo.missing", "param": "echo"}]}
    wf = poll(client, submit(client, step("a"), missing, step("c", "b"))["id"])
    b, c = steps_of(wf)["b"], steps_of(wf)["c"]
    expected = ("failed", "failed", None, "mapping_failed", "pending")
    assert expected == (wf["status"], b["status"], b["job_id"], (b["error"] or {}).get("type"), c["status"])


def test_resume_after_failure_reruns_only_the_failed_step(client: TestClient) -> None:
    """Resuming a failed workflow keeps the succeeded step's job and gives the failed step a new one."""
    wf = poll(client, submit(client, step("a"), step("b", "a", fail_permanently=True), step("c", "b"))["id"])
    before = steps_of(wf)
    resumed = client.post(f"/v1/workflows/{wf['id']}/resume")
    after = steps_of(poll(client, wf["id"]))
    workflow_jobs = client.get("/v1/jobs", params={"workflow_id": wf["id"]}).json()["items"]
    assert resumed.status_code == 200
    assert before["a"]["job_id"] == after["a"]["job_id"]
    assert after["b"]["job_id"] not in (None, before["b"]["job_id"])
    assert (len(workflow_jobs), after["b"]["status"], after["c"]["job_id"]) == (3, "failed", None)


def test_cancel_then_resume_finishes_the_workflow(client: TestClient) -> None:
    """Cancelling while a step runs cancels the workflow; resuming finishes it and keeps the done step."""
    wf = submit(client, step("a"), step("b", "a", seconds=1), step("c", "b", type="debug.noop"))
    running = poll(
        client,
        wf["id"],
        lambda w: (
            steps_of(w)["b"]["status"] == "running"
            and job(client, steps_of(w)["b"]["job_id"])["status"] == "running"
        ),
    )
    first_b = steps_of(running)["b"]["job_id"]
    cancelled = client.post(f"/v1/workflows/{wf['id']}/cancel").json()
    assert wait_for(client, first_b, timeout=5)["status"] == "cancelled"
    client.post(f"/v1/workflows/{wf['id']}/resume")
    done = poll(client, wf["id"])
    assert (cancelled["status"], done["status"]) == ("cancelled", "succeeded")
    assert steps_of(running)["a"]["job_id"] == steps_of(done)["a"]["job_id"]
    assert first_b != steps_of(done)["b"]["job_id"]


def test_resume_of_running_workflow_is_409(api_only: TestClient) -> None:
    """Only a failed or cancelled workflow resumes: a running one is a 409."""
    wf = submit(api_only, step("a"))
    response = api_only.post(f"/v1/workflows/{wf['id']}/resume")
    assert error_of(response) == (409, "workflow_not_resumable")


def test_another_tenants_workflow_is_404(tenants: TestClient, alice: Tenant, bob: Tenant) -> None:
    """Bob cannot read, cancel or resume Alice's workflow: to him it does not exist."""
    created = tenants.post("/v1/workflows", json={"steps": [step("a")]}, headers=alice.headers)
    url = f"/v1/workflows/{created.json()['id']}"
    responses = [
        tenants.get(url, headers=bob.headers),
        tenants.post(f"{url}/cancel", headers=bob.headers),
        tenants.post(f"{url}/resume", headers=bob.headers),
    ]
    assert [error_of(r) for r in responses] == [(404, "workflow_not_found")] * 3
