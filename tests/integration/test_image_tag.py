"""``image.tag`` with its real models on real photos (scikit-image's samples) and rendered text.

The models and photos come from ``make install``; locally a missing one skips its tests, in CI it
fails them. The last tests run the processor once through the engine behind the native API.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from tests.conftest import wait_for
from tests.samples import require, sample_photo

from mediaforge.tagging import SIGNALS, Status, TagOptions, tag_image
from mediaforge.tagging.mobilenet import MODEL, weights_path
from mediaforge.tagging.ocr import read_text
from mediaforge.tagging.people import count_people
from mediaforge.tagging.pth import load_state_dict


def needs(*signals: str) -> None:
    for name in signals:
        availability = SIGNALS[name].availability()
        require(f"the {name} signal ({availability.reason})", availability.available)


def text_card(text: str = "HAPPY BIRTHDAY ANNA") -> Image.Image:
    """Black words in Pillow's own font on a white card."""
    card = Image.new("RGB", (900, 220), "white")
    ImageDraw.Draw(card).text((30, 70), text, fill="black", font=ImageFont.load_default(size=56))
    return card


# --- each signal on real images ------------------------------------------------------------
def test_the_cat_photo_has_a_cat_label_in_its_top_three() -> None:
    """Chelsea the cat is an Egyptian cat (about 0.70, as torchvision gives) and surely a cat."""
    needs("labels")
    result = MODEL.get().classify(sample_photo("chelsea.png"))
    names = [label.name for label in result.labels[:3]]
    assert {"Egyptian cat", "tabby", "tiger cat"} == set(names)
    assert ("Egyptian cat", "cat") == (names[0], result.groups[0].name)
    assert (0.70, 1.0) == (round(result.labels[0].score, 1), round(result.groups[0].score, 1))


def test_the_coffee_photo_is_an_espresso() -> None:
    """The coffee cup is an espresso at about 0.99."""
    needs("labels")
    top = MODEL.get().classify(sample_photo("coffee.png")).labels[0]
    assert ("espresso", 0.99) == (top.name, round(top.score, 2))


def test_the_embedding_is_close_for_a_mirror_image_and_far_for_another_photo() -> None:
    """The 1280-d unit vector of a photo and its mirror image agree; a different photo does not."""
    needs("labels")
    cat = sample_photo("chelsea.png")
    model = MODEL.get()
    mirror = cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    vectors = [model.classify(image).embedding for image in (cat, mirror)]
    coffee = model.classify(sample_photo("coffee.png")).embedding
    assert ((1280,), 1.0) == (vectors[0].shape, round(float(np.linalg.norm(vectors[0])), 4))
    assert float(vectors[0] @ vectors[1]) > 0.95 > 0.6 > float(vectors[0] @ coffee)


def test_the_shipped_weights_read_without_torch() -> None:
    """All 314 tensors of torchvision's mobilenet_v2-b0353104.pth load as numpy arrays."""
    needs("labels")
    path = weights_path()
    assert path is not None
    state = load_state_dict(path)
    expected = (314, (32, 3, 3, 3), (1000, 1280))
    assert expected == (len(state), state["features.0.0.weight"].shape, state["classifier.1.weight"].shape)


def test_ocr_reads_the_drawn_words() -> None:
    """The words drawn on the card are read back."""
    needs("ocr")
    text = " ".join(line.text for line in read_text(text_card())).upper()
    assert {"HAPPY", "BIRTHDAY", "ANNA"} <= set(text.split())


def test_ocr_finds_no_text_in_a_photo_without_any() -> None:
    """The coffee photo has no confident line of text."""
    needs("ocr")
    assert [] == read_text(sample_photo("coffee.png"))


def test_the_astronaut_has_a_face_and_the_text_card_has_none() -> None:
    """A portrait has one face and one person; a text card has neither."""
    needs("people")
    astronaut, card = count_people(sample_photo("astronaut.png")), count_people(text_card())
    assert ((1, 1), (0, 0)) == ((astronaut.faces, astronaut.persons), (card.faces, card.persons))


def test_tagging_a_text_card_uses_the_words_for_alt_text_and_filename() -> None:
    """With every local signal, the text card's alt text quotes it and the filename is its slug."""
    needs("labels", "ocr", "people")
    result = tag_image(text_card(), TagOptions(extension="png"))
    ran = {name for name, report in result.signals.items() if report.status is Status.OK}
    assert {"labels", "ocr", "people", "colors"} == ran
    assert 'HAPPY BIRTHDAY ANNA"' in result.alt_text
    assert ("happy-birthday-anna-white", ".png") == (result.filename[:25], result.filename[-4:])
    assert {"happy", "birthday", "anna", "white"} <= set(result.keywords)


# --- through the engine --------------------------------------------------------------------
@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: the engine's database contract is proven elsewhere; this runs the models once."""
    path = tmp_path / "mediaforge.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def upload_png(client: TestClient, image: Image.Image, filename: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    files = {"file": (filename, buffer.getvalue(), "application/octet-stream")}
    response = client.post("/v1/assets", files=files)
    assert response.status_code == 201, response.text
    asset_id: str = response.json()["id"]
    return asset_id


def finished(client: TestClient, job_id: str, rounds: int = 3) -> dict[str, Any]:
    """The job once it ends (each long-poll waits at most the API's 60 s; the first loads the models)."""
    for _ in range(rounds):
        view = wait_for(client, job_id, timeout=60)
        if view["status"] not in ("queued", "running"):
            break
    return view


def test_the_engine_tags_an_uploaded_photo(client: TestClient) -> None:
    """``image.tag`` runs on the embedded worker: a cat, a PNG filename, every local signal ok."""
    needs("labels", "ocr", "people")
    asset = upload_png(client, sample_photo("chelsea.png"), "IMG_0042.PNG")
    body = {"type": "image.tag", "inputs": [asset], "params": {"top_k": 3}}
    job = client.post("/v1/jobs", json=body).json()
    done = finished(client, job["id"])
    assert "succeeded" == done["status"], done
    result = done["result"]
    statuses = {name: report["status"] for name, report in result["signals"].items()}
    expected = {"labels": "ok", "ocr": "ok", "people": "ok", "colors": "ok", "vision": "skipped"}
    assert (expected, "local", 3) == (statuses, result["source"], len(result["labels"]))
    assert ("An Egyptian cat, mostly ", ["cat", "egyptian cat"]) == (
        result["alt_text"][:24],
        result["keywords"][:2],
    )
    assert "egyptian-cat-brown-gray.png" == result["filename"]
    assert (0, 0, False) == (result["faces"], result["persons"], "embedding" in result)


@pytest.fixture
def vision_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A fake OpenAI-compatible provider on loopback, allowed through the work processes' SSRF guard."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            content = json.dumps({"alt_text": "A cat on a chair.", "keywords": ["cat", "chair"]})
            data = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host = f"127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("MEDIAFORGE_FETCH_ALLOW_HOSTS", host)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://{host}/v1", seen
    server.shutdown()
    server.server_close()


def test_the_engine_uses_a_configured_vision_model(
    vision_provider: tuple[str, list[dict[str, Any]]], client: TestClient
) -> None:
    """With vision params the model's alt text wins and the local labels are merged into keywords."""
    needs("labels")
    base_url, seen = vision_provider
    asset = upload_png(client, sample_photo("chelsea.png"), "cat.png")
    params = {
        "signals": ["labels", "colors", "vision"],
        "vision_base_url": base_url,
        "vision_model": "fake-vision",
        "vision_api_key": "sk-test",
    }
    job = client.post("/v1/jobs", json={"type": "image.tag", "inputs": [asset], "params": params}).json()
    done = finished(client, job["id"])
    assert "succeeded" == done["status"], done
    result = done["result"]
    expected = ("vision", "A cat on a chair.", "cat-chair.png", ["cat", "chair", "egyptian cat"])
    assert expected == (result["source"], result["alt_text"], result["filename"], result["keywords"][:3])
    assert "fake-vision" == seen[0]["model"]
