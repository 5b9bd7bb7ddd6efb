"""The four ``video.*`` processors as jobs on the real engine (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import wait_for
from tests.videos import cut_clip, face_clip, speech_clip

from mediaforge.video.rttm import parse_rttm

pytest.importorskip("av")
pytest.importorskip("mediapipe")


def upload(client: TestClient, path: Path) -> str:
    files = {"file": (path.name, path.read_bytes(), "application/octet-stream")}
    response = client.post("/v1/assets", files=files)
    assert response.status_code == 201, response.text
    asset_id: str = response.json()["id"]
    return asset_id


def run(client: TestClient, kind: str, asset_id: str, **params: Any) -> dict[str, Any]:
    body = {"type": kind, "inputs": [asset_id], "params": params}
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    job = response.json()
    for _ in range(4):  # up to four minutes on a busy two-core machine
        job = wait_for(client, job["id"], timeout=60)
        if job["status"] in {"succeeded", "failed", "cancelled"}:
            break
    return job


def output_names(client: TestClient, job: dict[str, Any]) -> list[str]:
    return [client.get(f"/v1/assets/{asset}").json()["filename"] for asset in job["outputs"]]


def test_each_pipeline_runs_as_its_own_job(client: TestClient, tmp_path: Path) -> None:
    """Scenes, people, faces and speech: four jobs succeed, each with its annotation file first."""
    cuts = upload(client, cut_clip(tmp_path / "cuts", cut_frames=[20, 45], total_frames=70))
    faces = upload(client, face_clip(tmp_path / "faces", faces=2, total_frames=20))
    talk = upload(client, speech_clip(tmp_path / "talk", speech=[(1.0, "Hello there")], seconds=3))
    jobs = {
        "video.scene_detection": run(client, "video.scene_detection", cuts, min_scene_length=0.4),
        "video.person_tracking": run(client, "video.person_tracking", faces, confidence_threshold=0.5),
        "video.face_analysis": run(client, "video.face_analysis", faces),
        "video.audio_processing": run(client, "video.audio_processing", talk),
    }
    assert dict.fromkeys(jobs, "succeeded") == {k: j["status"] for k, j in jobs.items()}, jobs
    firsts = {kind: output_names(client, job)[0] for kind, job in jobs.items()}
    assert {
        "video.scene_detection": "scene_detection.json",
        "video.person_tracking": "person_tracking.json",
        "video.face_analysis": "face_analysis.json",
        "video.audio_processing": "audio_processing.rttm",
    } == firsts
    assert (3, 8) == (
        jobs["video.scene_detection"]["result"]["annotation_count"],
        jobs["video.face_analysis"]["result"]["annotation_count"],
    )
    rttm = client.get(f"/v1/assets/{jobs['video.audio_processing']['outputs'][0]}/content").text
    assert 1 == len(parse_rttm(rttm)) == jobs["video.audio_processing"]["result"]["annotation_count"]


def test_a_file_that_is_not_a_video_fails_once_as_the_callers_fault(
    client: TestClient, tmp_path: Path
) -> None:
    """Text named .mp4 fails with ``invalid_video`` on the first attempt, not retried."""
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video at all\n" * 10)
    job = run(client, "video.scene_detection", upload(client, fake))
    assert ("failed", "invalid_video", 1) == (job["status"], job["error"]["type"], job["attempt"])
