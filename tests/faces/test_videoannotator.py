"""The VideoAnnotator 1.3.0 face over HTTP, as its server tests, CLI and web viewer use it.

Every response body is checked against the contract (``specs/videoannotator.openapi.json``); jobs run
real clips through the embedded workers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.accounts import Tenant
from tests.conftest import make_settings, wait_for
from tests.contract import validate
from tests.videos import cut_clip, speech_clip

from mediaforge.app import create_app
from mediaforge.config import Settings
from mediaforge.db.engine import Database
from mediaforge.faces.videoannotator.pipelines import CATALOG
from mediaforge.jobs.models import Job
from mediaforge.processors.registry import Registry, default_registry

SPEC = "videoannotator.openapi.json"
MP4 = "video/mp4"


# --- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Two seconds of 320x240 H.264 with one cut at frame 25."""
    path = cut_clip(tmp_path_factory.mktemp("clips") / "two_shots", cut_frames=[25], total_frames=50)
    return path.read_bytes()


@pytest.fixture
def app(settings: Settings) -> Iterator[TestClient]:
    """Auth off, no workers: jobs stay pending."""
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as client:
        yield client


@pytest.fixture
def worked(settings: Settings) -> Iterator[TestClient]:
    """Auth off, two embedded work processes: jobs run."""
    with TestClient(create_app(settings, workers=2, run_migrations=False)) as client:
        yield client


def submit(
    client: TestClient,
    video: bytes,
    *,
    name: str = "two_shots.mp4",
    pipelines: str | None = "scene_detection",
    config: dict[str, Any] | str | None = None,
    headers: dict[str, str] | None = None,
    path: str = "/api/v1/jobs/",
) -> Any:
    data: dict[str, str] = {}
    if pipelines is not None:
        data["selected_pipelines"] = pipelines
    if config is not None:
        data["config"] = config if isinstance(config, str) else json.dumps(config)
    return client.post(path, files={"video": (name, video, MP4)}, data=data, headers=headers or {})


def check_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The contract's error envelope with ``code``; returns its ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, body
    assert set(error) == {"code", "message", "detail", "hint", "timestamp"}
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["timestamp"].endswith("Z")
    assert body["detail"] == error["message"]
    return error


def count_rows(settings: Settings, table: str) -> int:
    from sqlalchemy import text

    db = Database(settings.database_url)
    try:
        with db.session(read_only=True) as session:
            return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
    finally:
        db.dispose()


# --- the contract as a whole ---------------------------------------------------------------------------
def test_every_operation_of_the_contract_is_served(app: TestClient) -> None:
    """Each path and method in the contract is an operation of ours."""
    contract = json.loads((Path(__file__).resolve().parents[2] / "specs" / SPEC).read_text())
    ours = app.app.openapi()["paths"]  # type: ignore[attr-defined]
    wanted = {(path, method) for path, ops in contract["paths"].items() for method in ops}
    served = {(path, method) for path, ops in ours.items() for method in ops}
    assert sorted(wanted - served) == []


@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/jobs/", "/api/v1/pipelines", "/api/v1/pipelines/"])
def test_collections_answer_with_and_without_the_slash(app: TestClient, path: str) -> None:
    """The viewer, CLI and quick-test omit the slash the contract declares: both answer 200, no redirect."""
    response = app.get(path, follow_redirects=False)
    assert response.status_code == 200, response.text
    validate(SPEC, "JobListResponse" if "jobs" in path else "PipelineListResponse", response.json())


def test_root_health_has_status_version_and_timestamp(app: TestClient) -> None:
    """``GET /health`` is cheap and public: ``{status: ok, version, timestamp}``."""
    body = app.get("/health").json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["timestamp"].endswith("Z")


# --- pipelines ----------------------------------------------------------------------------------------
def test_pipeline_list_comes_from_the_catalog_with_schemas_from_the_params_models(app: TestClient) -> None:
    """Every catalog pipeline is listed; its config_schema mirrors its processor's params model."""
    body = app.get("/api/v1/pipelines/").json()
    validate(SPEC, "PipelineListResponse", body)
    assert body["total"] == len(CATALOG) == len(body["pipelines"])
    by_name = {p["name"]: p for p in body["pipelines"]}
    assert set(by_name) == {p.name for p in CATALOG}
    registry = default_registry()
    for pipeline in CATALOG:
        info = by_name[pipeline.name]
        assert info["enabled"] == (
            pipeline.processor in registry and registry.get(pipeline.processor).availability().available
        )
        if pipeline.processor in registry:
            fields = registry.get(pipeline.processor).params.model_fields
            assert set(info["config_schema"]) == set(fields)
            for name, spec in info["config_schema"].items():
                assert spec["default"] == fields[name].default
    threshold = by_name["scene_detection"]["config_schema"]["threshold"]
    assert (threshold["type"], threshold["min"], threshold["max"]) == ("float", 1.0, 255.0)
    assert by_name["scene_detection"]["config_schema"]["method"]["options"] == ["content", "adaptive"]


def test_pipeline_detail_accepts_names_and_short_aliases(app: TestClient) -> None:
    """``/pipelines/scene_detection`` and ``/pipelines/scene`` are the same pipeline, with its taxonomy."""
    full = app.get("/api/v1/pipelines/scene_detection")
    assert full.status_code == 200
    validate(SPEC, "PipelineInfo", full.json())
    assert app.get("/api/v1/pipelines/scene").json() == full.json()
    info = full.json()
    assert (info["pipeline_family"], info["modalities"], info["outputs"][0]["format"]) == (
        "scene",
        ["video"],
        "JSON",
    )
    assert all(isinstance(example, dict) for example in info["examples"])


def test_unknown_pipeline_is_404_pipeline_not_found(app: TestClient) -> None:
    """An unknown name gets the envelope with PIPELINE_NOT_FOUND, on detail and validate alike."""
    error = check_error(app.get("/api/v1/pipelines/openface3_identity"), 404, "PIPELINE_NOT_FOUND")
    assert error["message"] == "Pipeline 'openface3_identity' not found"
    check_error(app.post("/api/v1/pipelines/nope/validate", json={"config": {}}), 404, "PIPELINE_NOT_FOUND")


def test_pipeline_validate_takes_bare_or_keyed_config(app: TestClient) -> None:
    """The bare parameters and ``{name: parameters}`` are both accepted and give the same verdict."""
    bare = app.post("/api/v1/pipelines/scene_detection/validate", json={"config": {"threshold": 300}})
    keyed = app.post(
        "/api/v1/pipelines/scene_detection/validate", json={"config": {"scene_detection": {"threshold": 300}}}
    )
    validate(SPEC, "videoannotator__api__v1__pipelines__ConfigValidationResponse", bare.json())
    assert bare.json() == keyed.json()
    body = bare.json()
    assert (body["valid"], len(body["errors"])) == (False, 1)
    error = body["errors"][0]
    assert (error["field"], error["error_code"], error["value"]) == ("threshold", "OUT_OF_RANGE", 300)
    assert error["message"] == "Invalid value for threshold (must be between 1 and 255)"


def test_pipeline_validate_warns_about_unknown_keys(app: TestClient) -> None:
    """Unknown parameters are a warning, not an error: the config stays valid."""
    body = app.post(
        "/api/v1/pipelines/scene_detection/validate", json={"config": {"threshold": 20, "colour": "red"}}
    ).json()
    assert (body["valid"], body["errors"], body["message"]) == (
        True,
        [],
        "Configuration is valid with 1 warning(s)",
    )
    assert [(w["field"], w["error_code"]) for w in body["warnings"]] == [("colour", "UNKNOWN_PARAMETER")]


def test_config_validate_reports_errors_warnings_and_what_it_checked(app: TestClient) -> None:
    """The seed's example: an unknown selected pipeline is an error, an unselected one's config a warning."""
    response = app.post(
        "/api/v1/config/validate",
        json={
            "config": {"audio_processing": {"sample_rate": 16000}, "scene_detection": {"method": "magic"}},
            "selected_pipelines": ["scene_detection", "whisper_transcription"],
        },
    )
    assert response.status_code == 200
    body = response.json()
    validate(SPEC, "videoannotator__api__v1__config__ConfigValidationResponse", body)
    assert body["valid"] is False
    assert body["pipelines_validated"] == ["scene_detection"]
    assert sorted((e["pipeline"], e["error_code"]) for e in body["errors"]) == [
        ("scene_detection", "INVALID_OPTION"),
        ("whisper_transcription", "PIPELINE_NOT_FOUND"),
    ]
    assert [(w["pipeline"], w["error_code"]) for w in body["warnings"]] == [
        ("audio_processing", "PIPELINE_NOT_SELECTED")
    ]
    assert body["message"] == "Configuration has 2 error(s)"


def test_config_validate_without_a_body_is_fastapis_422(app: TestClient) -> None:
    """Request-model failures keep FastAPI's ``HTTPValidationError`` shape."""
    response = app.post("/api/v1/config/validate", json={"config": {}})
    assert response.status_code == 422
    validate(SPEC, "HTTPValidationError", response.json())


# --- submitting ---------------------------------------------------------------------------------------
def test_submit_returns_201_pending_with_every_field(app: TestClient, clip: bytes) -> None:
    """201 with all 13 JobResponse keys; the config and selection are echoed as parsed."""
    config = {"scene_detection": {"threshold": 30}}
    response = submit(app, clip, pipelines=" scene_detection , scene ", config=config)
    assert response.status_code == 201, response.text
    job = response.json()
    validate(SPEC, "JobResponse", job)
    assert len(job) == 13
    assert (job["status"], job["selected_pipelines"], job["config"]) == (
        "pending",
        ["scene_detection"],
        config,
    )
    assert (job["video_filename"], job["video_size_bytes"], job["video_duration_seconds"]) == (
        "two_shots.mp4",
        len(clip),
        2,
    )
    assert job["created_at"].endswith("Z")
    assert job["completed_at"] is None


def test_submit_without_the_slash_is_the_same_operation(app: TestClient, clip: bytes) -> None:
    """``POST /api/v1/jobs`` creates a job too (201, no redirect)."""
    response = submit(app, clip, path="/api/v1/jobs")
    assert response.status_code == 201, response.text
    validate(SPEC, "JobResponse", response.json())


def test_a_scene_detection_job_runs_to_completion_with_results_and_file(
    worked: TestClient, clip: bytes
) -> None:
    """submit → completed; results give per-pipeline times, count and a download URL that serves the file."""
    job = submit(worked, clip).json()
    assert wait_for(worked, job["id"], timeout=60)["status"] == "succeeded"
    done = worked.get(f"/api/v1/jobs/{job['id']}").json()
    validate(SPEC, "JobResponse", done)
    assert (done["status"], done["error_message"]) == ("completed", None)
    assert done["completed_at"] is not None
    assert done["result_path"]
    results = worked.get(f"/api/v1/jobs/{job['id']}/results").json()
    validate(SPEC, "JobResultsResponse", results)
    scene = results["pipeline_results"]["scene_detection"]
    assert (results["status"], scene["status"], scene["output_file"]) == (
        "completed",
        "completed",
        "scene_detection.json",
    )
    assert scene["processing_time"] > 0
    assert scene["start_time"] <= scene["end_time"]
    assert scene["download_url"] == f"/api/v1/jobs/{job['id']}/results/files/scene_detection"
    file = worked.get(scene["download_url"])
    assert file.status_code == 200
    assert 'filename="scene_detection.json"' in file.headers["content-disposition"]
    document = file.json()
    assert len(document["annotations"]) == scene["annotation_count"] == 2


def test_two_pipelines_run_side_by_side_and_each_serves_its_file(worked: TestClient, tmp_path: Path) -> None:
    """scene_detection and audio_processing on a clip with speech: two results, a JSON and an RTTM file."""
    speech = speech_clip(tmp_path / "talk", speech=[(0.5, "hello there, this is a test")], seconds=3.0)
    job = submit(worked, speech.read_bytes(), name="talk.mp4", pipelines="scene_detection,audio_processing")
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]
    assert wait_for(worked, job_id, timeout=60)["status"] == "succeeded"
    results = worked.get(f"/api/v1/jobs/{job_id}/results").json()
    validate(SPEC, "JobResultsResponse", results)
    assert sorted(results["pipeline_results"]) == ["audio_processing", "scene_detection"]
    audio = results["pipeline_results"]["audio_processing"]
    assert (audio["status"], audio["output_file"]) == ("completed", "audio_processing.rttm")
    rttm = worked.get(audio["download_url"])
    lines = rttm.text.splitlines()
    assert len(lines) == audio["annotation_count"] >= 1
    assert all(line.startswith("SPEAKER ") and len(line.split()) >= 9 for line in lines)


def test_a_lost_video_fails_every_pipeline_and_the_job(settings: Settings, clip: bytes) -> None:
    """The stored video vanishes before the workers run: each pipeline fails, so the job fails, saying why."""
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as api:
        job = submit(api, clip, pipelines="scene_detection,face_analysis").json()
    for blob in (settings.data_dir / "blobs").rglob("*.mp4"):
        blob.unlink()
    with TestClient(create_app(settings, workers=1, run_migrations=False)) as worked:
        assert wait_for(worked, job["id"], timeout=60)["status"] == "failed"
        failed = worked.get(f"/api/v1/jobs/{job['id']}").json()
        results = worked.get(f"/api/v1/jobs/{job['id']}/results").json()
        cancel = worked.post(f"/api/v1/jobs/{job['id']}/cancel")
    validate(SPEC, "JobResponse", failed)
    assert failed["status"] == "failed"
    assert failed["error_message"].startswith("All pipelines failed: scene_detection: ")
    assert {r["status"] for r in results["pipeline_results"].values()} == {"failed"}
    conflict = check_error(cancel, 409, "JOB_ALREADY_COMPLETED")
    assert conflict["message"] == f"Job {job['id']} is already completed (status: failed)"
    assert all(r["error_message"] and r["download_url"] is None for r in results["pipeline_results"].values())


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            "notes.mp4", b"just some text, renamed to look like a video\n" * 20, id="text-renamed-mp4"
        ),
        pytest.param("empty.mp4", b"", id="zero-bytes"),
        pytest.param("photo.mp4", b"\x89PNG\r\n\x1a\n" + b"\0" * 200, id="png-renamed-mp4"),
    ],
)
def test_uploads_that_are_not_videos_are_400_and_create_nothing(
    app: TestClient, settings: Settings, name: str, data: bytes
) -> None:
    """Not a video by its bytes: 400 INVALID_REQUEST with the envelope, no job and no stored file."""
    check_error(submit(app, data, name=name), 400, "INVALID_REQUEST")
    assert (count_rows(settings, "jobs"), count_rows(settings, "assets")) == (0, 0)
    assert app.get("/api/v1/health").status_code == 200


def test_a_truncated_mp4_is_400_and_creates_nothing(app: TestClient, settings: Settings, clip: bytes) -> None:
    """An MP4 cut in half is refused by probing, not by its name."""
    error = check_error(submit(app, clip[: len(clip) // 2]), 400, "INVALID_REQUEST")
    assert error["message"].startswith("Invalid video file")
    assert (count_rows(settings, "jobs"), count_rows(settings, "assets")) == (0, 0)


def test_an_out_of_range_config_is_400_invalid_config(
    app: TestClient, settings: Settings, clip: bytes
) -> None:
    """The seed's message shape: "Configuration validation failed: <pipeline>: <message>"."""
    error = check_error(
        submit(app, clip, config={"scene_detection": {"threshold": 0.5}}), 400, "INVALID_CONFIG"
    )
    assert error["message"] == (
        "Configuration validation failed: scene_detection: "
        "Invalid value for threshold (must be between 1 and 255)"
    )
    assert error["hint"] == "Fix the validation errors and resubmit"
    assert count_rows(settings, "jobs") == 0


@pytest.mark.parametrize(
    ("config", "pipelines", "expected"),
    [
        pytest.param("{not json", "scene_detection", "Invalid JSON in config", id="malformed-json"),
        pytest.param("[1, 2]", "scene_detection", "config must be a JSON object", id="not-an-object"),
        pytest.param(
            None,
            "scene_detection,face_recognition",
            "unknown pipeline(s) 'face_recognition'; available pipelines: scene_detection, person_tracking",
            id="unknown",
        ),
    ],
)
def test_bad_config_or_selection_is_400_invalid_config(
    app: TestClient, clip: bytes, config: str | None, pipelines: str, expected: str
) -> None:
    """Malformed JSON, a non-object, and an unknown pipeline name are all 400 INVALID_CONFIG."""
    error = check_error(submit(app, clip, config=config, pipelines=pipelines), 400, "INVALID_CONFIG")
    assert expected in error["message"]


def test_unknown_config_keys_are_dropped_before_the_jobs_are_created(
    app: TestClient, settings: Settings, clip: bytes
) -> None:
    """A warning, not an error: the job is created and its pipeline gets only the known keys."""
    config = {"scene_detection": {"threshold": 40, "sparkle": True}}
    job = submit(app, clip, config=config).json()
    assert job["config"] == config
    from sqlalchemy import select

    from mediaforge.jobs.models import Job

    db = Database(settings.database_url)
    try:
        with db.session(read_only=True) as session:
            child = session.scalars(select(Job).where(Job.parent_id == job["id"])).one()
            assert (child.type, child.params["threshold"], "sparkle" in child.params) == (
                "video.scene_detection",
                40.0,
                False,
            )
    finally:
        db.dispose()


def test_a_flat_config_applies_to_each_selected_pipeline_that_has_the_key(
    app: TestClient, clip: bytes
) -> None:
    """The original server's own tests send ``{"confidence_threshold": 1.5}``: checked per pipeline."""
    error = check_error(
        submit(app, clip, pipelines="person_tracking,face_analysis", config={"confidence_threshold": 1.5}),
        400,
        "INVALID_CONFIG",
    )
    assert error["message"] == (
        "Configuration validation failed: person_tracking: "
        "Invalid value for confidence_threshold (must be between 0 and 1)"
    )


def test_selection_may_be_a_json_array_and_config_defaults_to_empty(app: TestClient, clip: bytes) -> None:
    """``'["scene_detection"]'`` is accepted as well as a comma list; no config echoes ``{}``."""
    job = submit(app, clip, pipelines='["scene_detection", "audio"]').json()
    assert (job["selected_pipelines"], job["config"]) == (["scene_detection", "audio_processing"], {})


def test_a_missing_video_is_fastapis_422(app: TestClient) -> None:
    """No ``video`` part: 422 ``HTTPValidationError``."""
    response = app.post("/api/v1/jobs/", data={"selected_pipelines": "scene_detection"})
    assert response.status_code == 422
    validate(SPEC, "HTTPValidationError", response.json())


# --- listing, cancelling, deleting ----------------------------------------------------------------------
def test_list_pages_newest_first_and_filters_by_status(app: TestClient, clip: bytes) -> None:
    """page / per_page slice the list, total counts them all, status_filter matches exactly."""
    ids = [submit(app, clip).json()["id"] for _ in range(3)]
    app.post(f"/api/v1/jobs/{ids[0]}/cancel")
    first = app.get("/api/v1/jobs/", params={"page": 1, "per_page": 2}).json()
    second = app.get("/api/v1/jobs/", params={"page": 2, "per_page": 2}).json()
    validate(SPEC, "JobListResponse", first)
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
    assert [j["id"] for j in first["jobs"] + second["jobs"]] == ids[::-1]
    pending = app.get("/api/v1/jobs", params={"status_filter": "pending"}).json()
    cancelled = app.get("/api/v1/jobs", params={"status_filter": "cancelled"}).json()
    assert sorted(j["id"] for j in pending["jobs"]) == sorted(ids[1:])
    assert [j["id"] for j in cancelled["jobs"]] == [ids[0]]
    assert app.get("/api/v1/jobs", params={"status_filter": "bogus"}).json()["total"] == 0


@pytest.mark.parametrize("params", [{"per_page": 0}, {"per_page": 101}, {"page": 0}, {"page": "x"}])
def test_paging_out_of_bounds_is_422(app: TestClient, params: dict[str, Any]) -> None:
    """page ≥ 1 and per_page in 1..100."""
    response = app.get("/api/v1/jobs/", params=params)
    assert response.status_code == 422
    validate(SPEC, "HTTPValidationError", response.json())


def test_cancel_is_idempotent_for_cancelled_jobs(app: TestClient, clip: bytes) -> None:
    """pending → cancelled with the seed's message; cancelling again returns the same job with 200."""
    job = submit(app, clip).json()
    first = app.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert first.status_code == 200
    validate(SPEC, "JobResponse", first.json())
    assert (first.json()["status"], first.json()["error_message"]) == (
        "cancelled",
        "Job cancelled by user request",
    )
    assert first.json()["completed_at"] is not None
    again = app.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 200
    assert again.json() == first.json()
    results = app.get(f"/api/v1/jobs/{job['id']}/results").json()
    validate(SPEC, "JobResultsResponse", results)
    assert results["pipeline_results"]["scene_detection"]["status"] == "cancelled"


def test_cancelling_a_completed_job_is_409(worked: TestClient, clip: bytes) -> None:
    """Finished jobs cannot be cancelled: 409 JOB_ALREADY_COMPLETED with the actual status."""
    job = submit(worked, clip).json()
    wait_for(worked, job["id"], timeout=60)
    error = check_error(worked.post(f"/api/v1/jobs/{job['id']}/cancel"), 409, "JOB_ALREADY_COMPLETED")
    assert error["detail"] == {"job_id": job["id"], "status": "completed"}
    assert error["hint"] == "Cannot cancel a job that has already finished"


def test_delete_removes_the_job_and_its_files(worked: TestClient, settings: Settings, clip: bytes) -> None:
    """DELETE → 204 with no body; the job is then 404 and its video and result files are gone."""
    job = submit(worked, clip).json()
    wait_for(worked, job["id"], timeout=60)
    response = worked.delete(f"/api/v1/jobs/{job['id']}")
    assert (response.status_code, response.content) == (204, b"")
    check_error(worked.get(f"/api/v1/jobs/{job['id']}"), 404, "JOB_NOT_FOUND")
    check_error(worked.delete(f"/api/v1/jobs/{job['id']}"), 404, "JOB_NOT_FOUND")
    assert count_rows(settings, "jobs") == 0
    blobs = [p for p in (settings.data_dir / "blobs").rglob("*") if p.is_file()]
    assert blobs == []


def test_delete_of_a_pending_job_cancels_it_first(app: TestClient, settings: Settings, clip: bytes) -> None:
    """A job still waiting is cancelled and removed (its cancellation is announced to streams)."""
    job = submit(app, clip).json()
    assert app.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    assert app.get("/api/v1/jobs/").json()["total"] == 0
    assert count_rows(settings, "jobs") == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/jobs/{id}"),
        ("POST", "/api/v1/jobs/{id}/cancel"),
        ("DELETE", "/api/v1/jobs/{id}"),
        ("GET", "/api/v1/jobs/{id}/results"),
        ("GET", "/api/v1/jobs/{id}/results/files/scene_detection"),
        ("GET", "/api/v1/debug/jobs/{id}"),
    ],
)
def test_unknown_job_is_404_job_not_found(app: TestClient, method: str, path: str) -> None:
    """The seed's example: message "Job <id> not found", detail ``{job_id}``."""
    error = check_error(app.request(method, path.format(id="abc123-invalid")), 404, "JOB_NOT_FOUND")
    assert error["message"] == "Job abc123-invalid not found"
    assert error["detail"] == {"job_id": "abc123-invalid"}


def test_results_file_of_a_pipeline_not_in_the_job_is_404(app: TestClient, clip: bytes) -> None:
    """A pipeline the job did not run, or one with no file yet, is 404 RESULT_NOT_FOUND."""
    job = submit(app, clip).json()
    check_error(app.get(f"/api/v1/jobs/{job['id']}/results/files/face_analysis"), 404, "RESULT_NOT_FOUND")
    check_error(app.get(f"/api/v1/jobs/{job['id']}/results/files/scene_detection"), 404, "RESULT_NOT_FOUND")


# --- auth and tenancy -----------------------------------------------------------------------------------
def test_jobs_need_a_key_when_auth_is_on(tenants: TestClient) -> None:
    """No credential: 401 UNAUTHORIZED in the envelope with the seed's message."""
    error = check_error(tenants.get("/api/v1/jobs/"), 401, "UNAUTHORIZED")
    assert error["message"] == "Invalid or missing API key"
    check_error(tenants.get("/api/v1/jobs/", headers={"Authorization": "Bearer nope"}), 401, "UNAUTHORIZED")


def test_bearer_and_x_api_key_both_authenticate(tenants: TestClient, alice: Tenant, clip: bytes) -> None:
    """The jobs examples send ``Authorization: Bearer``, the others ``X-API-Key``: both work."""
    job = submit(tenants, clip, headers=alice.bearer)
    assert job.status_code == 201, job.text
    listed = tenants.get("/api/v1/jobs/", headers=alice.headers).json()
    assert [j["id"] for j in listed["jobs"]] == [job.json()["id"]]


def test_another_tenants_job_is_404(tenants: TestClient, alice: Tenant, bob: Tenant, clip: bytes) -> None:
    """Bob neither lists nor reads, cancels, deletes or downloads Alice's job."""
    job = submit(tenants, clip, headers=alice.headers).json()
    assert tenants.get("/api/v1/jobs/", headers=bob.headers).json()["total"] == 0
    for method, path in [
        ("GET", f"/api/v1/jobs/{job['id']}"),
        ("POST", f"/api/v1/jobs/{job['id']}/cancel"),
        ("DELETE", f"/api/v1/jobs/{job['id']}"),
        ("GET", f"/api/v1/jobs/{job['id']}/results"),
        ("GET", f"/api/v1/debug/jobs/{job['id']}"),
    ]:
        check_error(tenants.request(method, path, headers=bob.headers), 404, "JOB_NOT_FOUND")
    assert tenants.get(f"/api/v1/jobs/{job['id']}", headers=alice.headers).json()["status"] == "pending"


def test_the_public_workers_section_names_only_the_callers_running_jobs(
    tenants: TestClient, auth_settings: Settings, alice: Tenant, bob: Tenant, clip: bytes
) -> None:
    """Everyone sees how many jobs run; only their owner (or an admin) sees which."""
    job = submit(tenants, clip, headers=alice.headers).json()
    with Database(auth_settings.database_url).session() as session:  # a worker has started one pipeline
        session.execute(update(Job).where(Job.parent_id == job["id"]).values(status="running"))
    for path, section in (("/api/v1/system/health", "workers"), ("/api/v1/debug/background-jobs", None)):
        seen = {}
        for who, headers in (("alice", alice.headers), ("bob", bob.headers), ("anonymous", {})):
            body = tenants.get(path, headers=headers).json()
            workers = body[section] if section else body["background_processing"]
            assert workers["active_jobs"] == 1
            seen[who] = workers["processing_jobs"]
        assert seen == {"alice": [job["id"]], "bob": [], "anonymous": []}, path


def test_public_endpoints_need_no_key_and_only_pipelines_check_one(tenants: TestClient) -> None:
    """Anonymous callers are served; a bad key is 401 on pipelines (as the contract shows), ignored on
    the health and system probes (the viewer reads ``security.auth_required`` before it has a key)."""
    assert tenants.get("/api/v1/pipelines/").status_code == 200
    check_error(tenants.get("/api/v1/pipelines/", headers={"X-API-Key": "wrong"}), 401, "UNAUTHORIZED")
    stale = {"Authorization": "Bearer dev-token"}
    assert tenants.get("/api/v1/health", headers=stale).status_code == 200
    probe = tenants.get("/api/v1/system/health", headers=stale)
    assert (probe.status_code, probe.json()["security"]) == (200, {"auth_required": True})


def test_cors_allows_the_web_viewer(tmp_path: Path, database_url: str) -> None:
    """The viewer at http://localhost:19011 may call the API when it is a configured origin."""
    settings = make_settings(tmp_path, database_url, cors_origins="http://localhost:19011")
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as client:
        preflight = client.options(
            "/api/v1/jobs/",
            headers={"Origin": "http://localhost:19011", "Access-Control-Request-Method": "POST"},
        )
        other = client.get("/api/v1/jobs/", headers={"Origin": "http://evil.example"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:19011"
    assert "access-control-allow-origin" not in other.headers


# --- health, system, debug ------------------------------------------------------------------------------
def test_basic_health_is_ok_with_the_contract_version(app: TestClient) -> None:
    """``{status: ok, version: 1.3.0, timestamp}``."""
    body = app.get("/api/v1/health").json()
    assert (set(body), body["status"], body["version"]) == ({"status", "version", "timestamp"}, "ok", "1.3.0")


def test_detailed_health_reports_every_subsystem(app: TestClient) -> None:
    """database, storage, gpu and registry, the registry's names computed from the catalog."""
    response = app.get("/api/v1/health", params={"detailed": "true"})
    assert response.status_code == 200, response.text
    details = response.json()["details"]
    assert details["database"]["status"] == "ok"
    assert details["storage"]["status"] in ("ok", "warning")
    assert details["storage"]["total_gb"] > 0
    assert isinstance(details["gpu"]["available"], bool)
    registry = default_registry()
    runnable = [
        p.name
        for p in CATALOG
        if p.processor in registry and registry.get(p.processor).availability().available
    ]
    assert details["registry"]["pipeline_names"] == runnable
    assert details["registry"]["pipelines_loaded"] == len(runnable)


def test_detailed_health_is_503_when_no_pipeline_can_run(app: TestClient) -> None:
    """A server whose registry has no video processors is unhealthy in detailed mode (basic stays 200)."""
    app.app.state.runtime.registry = Registry([])  # type: ignore[attr-defined]
    response = app.get("/api/v1/health", params={"detailed": "true"})
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["details"]["registry"]["pipelines_loaded"]) == ("unhealthy", 0)
    assert app.get("/api/v1/health").status_code == 200


def test_detailed_flag_must_be_a_boolean(app: TestClient) -> None:
    """``detailed=notabool`` is FastAPI's 422."""
    assert app.get("/api/v1/health", params={"detailed": "notabool"}).status_code == 422


def test_system_health_has_host_gpu_workers_and_security(worked: TestClient) -> None:
    """The comprehensive report: always 200, ``healthy``, with live embedded workers."""
    body = worked.get("/api/v1/system/health").json()
    assert (body["status"], body["api_version"], body["videoannotator_version"]) == (
        "healthy",
        "1.3.0",
        "1.3.0",
    )
    assert body["system"]["cpu_count"] >= 1
    assert body["system"]["memory"]["total"] > 0
    assert body["database"] == {"status": "healthy", "message": "Database is accessible", "writable": True}
    assert body["services"]["database"]["status"] == "healthy"
    assert body["security"] == {"auth_required": False}
    assert body["workers"]["status"] == "running"
    assert body["workers"]["max_concurrent_workers"] >= 2
    assert body["pipelines"]["total"] == len(body["pipelines"]["names"])
    gpu = body["gpu"]
    if not gpu["available"]:
        assert gpu == {"available": False, "reason": "CUDA not available"}
    else:
        assert isinstance(gpu["compute_capability"], str)
    assert body["uptime_seconds"] >= 0


def test_system_config_holds_no_secrets(tmp_path: Path, database_url: str) -> None:
    """Non-sensitive only: no signing key, no database credentials."""
    settings = make_settings(tmp_path, database_url, secret_key="very-secret-signing-key")
    with TestClient(create_app(settings, workers=0, run_migrations=False)) as client:
        text = client.get("/api/v1/system/config").text
        database = client.get("/api/v1/system/database").json()
    assert "very-secret-signing-key" not in text
    assert json.loads(text)["supported_video_formats"] == ["mp4", "avi", "mov", "mkv", "webm"]
    assert "@" not in database["url"] or ":***@" in database["url"]
    assert database["statistics"]["total_jobs"] == 0


def test_system_metrics_count_jobs_by_status(app: TestClient, clip: bytes) -> None:
    """Every status is present; counts follow the jobs."""
    submit(app, clip)
    body = app.get("/api/v1/system/metrics").json()
    assert body["jobs"] == {
        "total": 1,
        "by_status": {"pending": 1, "running": 0, "completed": 0, "failed": 0, "cancelled": 0},
    }
    assert 0 <= body["cpu_percent"] <= 100


def test_token_info_describes_the_caller_without_echoing_the_key(tenants: TestClient, alice: Tenant) -> None:
    """Valid, whose, which permissions; the raw key never appears; without a key it is 401."""
    response = tenants.get("/api/v1/debug/token-info", headers=alice.bearer)
    assert response.status_code == 200
    token = response.json()["token"]
    assert (token["valid"], token["user_id"]) == (True, alice.account_id)
    assert alice.key not in response.text
    check_error(tenants.get("/api/v1/debug/token-info"), 401, "UNAUTHORIZED")


def test_request_log_keeps_recent_requests_newest_first(app: TestClient) -> None:
    """Each request is logged with method, path, status and time; ``limit`` bounds the answer (1..100)."""
    app.get("/api/v1/pipelines/")
    app.get("/api/v1/jobs/nope")
    body = app.get("/api/v1/debug/request-log", params={"limit": 2}).json()
    assert body["showing"] == 2
    assert body["log_retention"] == "Last 100 requests"
    assert [(r["method"], r["path"], r["status_code"]) for r in body["requests"]] == [
        ("GET", "/api/v1/jobs/nope", 404),
        ("GET", "/api/v1/pipelines/", 200),
    ]
    assert app.get("/api/v1/debug/request-log", params={"limit": 101}).status_code == 422
    assert app.get("/api/v1/debug/request-log", params={"limit": 0}).status_code == 422


def test_debug_job_shows_pipelines_log_and_configuration(app: TestClient, clip: bytes) -> None:
    """The job's per-pipeline state, its event log and what was asked."""
    job = submit(app, clip, config={"scene_detection": {"threshold": 35}}).json()
    body = app.get(f"/api/v1/debug/jobs/{job['id']}").json()["job"]
    assert (body["status"], body["selected_pipelines"]) == ("pending", ["scene_detection"])
    assert body["configuration"] == {"scene_detection": {"threshold": 35}}
    assert body["debug_info"]["pipelines"]["scene_detection"]["status"] == "queued"
    assert [entry["message"] for entry in body["pipeline_logs"]][:1] == ["job.created"]


def test_debug_pipelines_and_background_jobs(app: TestClient) -> None:
    """Each pipeline with its processor and parameters; the background processor's state."""
    pipelines = app.get("/api/v1/debug/pipelines").json()["pipelines"]
    assert [p["name"] for p in pipelines] == [p.name for p in CATALOG]
    assert pipelines[0]["components"][0]["name"] == "video.scene_detection"
    background = app.get("/api/v1/debug/background-jobs").json()["background_processing"]
    assert background["running"] is False  # no workers in this app
    server = app.get("/api/v1/debug/server-info").json()
    assert server["server"]["api_base_path"] == "/api/v1"
    assert server["request_stats"]["total_requests"] >= 2


def test_mock_events_is_a_short_finite_stream(app: TestClient, clip: bytes) -> None:
    """connected, the job's current state, then connection.close."""
    job = submit(app, clip).json()
    with app.stream("GET", "/api/v1/debug/mock-events", params={"job_id": job["id"], "token": "x"}) as stream:
        text = "".join(stream.iter_text())
    assert stream.headers["content-type"].startswith("text/event-stream")
    datas = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [d["type"] for d in datas] == ["connected", "job.update", "connection.close"]
    assert datas[1]["status"] == "pending"
    assert datas[1]["job_id"] == job["id"]
