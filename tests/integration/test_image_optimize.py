"""``image.optimize`` through the real engine: upload, ``/v1/jobs``, the embedded worker, download."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from tests.conftest import make_settings, wait_for

from mediaforge.app import create_app

pytest.importorskip("pyvips")


def photo_png(width: int = 320, height: int = 240) -> bytes:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 128 / (width + height)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def upload(client: TestClient, data: bytes, filename: str) -> dict[str, Any]:
    response = client.post("/v1/assets", files={"file": (filename, data, "application/octet-stream")})
    assert response.status_code == 201, response.text
    asset: dict[str, Any] = response.json()
    return asset


def submit(client: TestClient, asset_id: str, **params: Any) -> dict[str, Any]:
    body = {"type": "image.optimize", "inputs": [asset_id], "params": params}
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 201, response.text
    return wait_for(client, response.json()["id"])


def test_optimize_job_writes_the_output_asset(client: TestClient) -> None:
    """A PNG resized to WebP on the embedded worker: the job result and the stored output agree."""
    asset = upload(client, photo_png(), "beach.png")
    done = submit(client, asset["id"], format="webp", width=160, quality=75)
    assert "succeeded" == done["status"], done["error"]
    result = done["result"]
    output = client.get(f"/v1/assets/{done['outputs'][0]}/content")
    image = Image.open(io.BytesIO(output.content))
    assert ("WEBP", (160, 120), "image/webp") == (image.format, image.size, output.headers["content-type"])
    assert ("beach.webp", len(output.content), "png") == (
        result["filename"],
        result["output_size"],
        result["input_format"],
    )
    assert {"upscale": False, "resize": True, "compress": True} == result["executed"]


def test_damaged_input_fails_once_as_the_callers_fault(client: TestClient) -> None:
    """A truncated JPEG fails with ``corrupt_image`` on its first attempt, not retried."""
    out = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), 90, np.uint8)).save(out, format="JPEG", quality=95)
    data = out.getvalue()
    asset = upload(client, data[: len(data) // 2], "cut.jpg")
    done = submit(client, asset["id"])
    assert ("failed", "corrupt_image", 1) == (done["status"], done["error"]["type"], done["attempt"])


def test_unknown_format_is_422(client: TestClient) -> None:
    """Params outside the schema are refused at submission, before any work."""
    asset = upload(client, photo_png(32, 24), "a.png")
    response = client.post(
        "/v1/jobs", json={"type": "image.optimize", "inputs": [asset["id"]], "params": {"format": "bmp"}}
    )
    assert (422, "invalid_params") == (response.status_code, response.json()["error"]["code"])


def test_the_worker_passes_its_own_settings_to_processors(tmp_path: Path, database_url: str) -> None:
    """The pixel ceiling a processor applies is the app's setting, not the environment's default."""
    settings = make_settings(tmp_path, database_url, max_image_pixels=100_000)
    with TestClient(create_app(settings, workers=1, run_migrations=False)) as client:
        asset = upload(client, photo_png(320, 240), "small.png")  # 76,800 pixels
        done = submit(client, asset["id"], format="png", upscale=4)
    assert "succeeded" == done["status"], done["error"]
    width, height = done["result"]["output_width"], done["result"]["output_height"]
    assert 76_800 < width * height <= 100_000  # 4x would be 1,228,800 under the default ceiling
