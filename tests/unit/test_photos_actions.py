"""The four actions on a generated photo set with known duplicates, bursts and events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import make_settings
from tests.photos import PhotoSet as GeneratedSet
from tests.photos import pairs, photo_set

from mediaforge.config import Settings
from mediaforge.errors import NotFound
from mediaforge.photos import actions
from mediaforge.photos.duplicates import Thresholds, find_duplicates
from mediaforge.photos.features import AnalyzeOptions, analyze_file
from mediaforge.photos.photobook import chapters
from mediaforge.photos.photoset import PhotoSet
from mediaforge.photos.schemas import AlternativesParams, DuplicatesParams, PhotobookParams, TextParams
from mediaforge.photos.service import UpstreamFailed, parse_params
from mediaforge.photos.similar import alternatives


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSet:
    return photo_set(tmp_path_factory.mktemp("photos"), duplicated=12, bursts=5)


@pytest.fixture(scope="module")
def photos(generated: GeneratedSet) -> PhotoSet:
    rows = []
    for shot in generated.shots:
        found = analyze_file(shot.path, AnalyzeOptions(faces=False))
        rows.append({"image_id": shot.image_id, **vars(found)})
    return PhotoSet.from_rows(rows)


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", **overrides)


def _predicted(result: dict[str, Any]) -> set[frozenset[str]]:
    return pairs([set(group["image_ids"]) for group in result["groups"]])


# --- DETECT_DUPLICATES ---------------------------------------------------------------------
def test_duplicate_detection_precision_and_recall(generated: GeneratedSet, photos: PhotoSet) -> None:
    """Exact copies, resizes, recompressions, crops and bursts are found with P and R >= 0.95."""
    predicted, truth = _predicted(find_duplicates(photos, Thresholds())), pairs(generated.groups())
    hits = len(predicted & truth)
    assert (hits / len(predicted) >= 0.95, hits / len(truth) >= 0.95) == (True, True), predicted ^ truth


def test_crops_are_found_without_capture_times(generated: GeneratedSet, photos: PhotoSet) -> None:
    """With the time rule off, the pictures alone still give precision and recall >= 0.95."""
    no_time = replace(Thresholds(), burst_seconds=-1.0)
    predicted, truth = _predicted(find_duplicates(photos, no_time)), pairs(generated.groups())
    hits = len(predicted & truth)
    assert hits / len(predicted) >= 0.95
    assert hits / len(truth) >= 0.95


def test_exact_copies_are_marked_exact_and_the_best_photo_is_kept(
    generated: GeneratedSet, photos: PhotoSet
) -> None:
    """A byte-identical pair is an exact group whose keep is its highest-quality member."""
    exact = next(shot for shot in generated.shots if shot.kind == "exact")
    result = find_duplicates(photos, Thresholds())
    group = next(g for g in result["groups"] if exact.image_id in g["image_ids"])
    quality = dict(zip(photos.image_ids.tolist(), photos.quality.tolist(), strict=True))
    assert ("exact", 1.0) == (group["kind"], group["score"])
    assert max(quality[i] for i in group["image_ids"]) == quality[group["keep"]]


def test_bursts_are_similar_and_can_be_left_out(generated: GeneratedSet, photos: PhotoSet) -> None:
    """Burst frames group as 'similar'; include_similar=false groups none of them."""
    burst = {shot.image_id for shot in generated.shots if shot.kind == "burst"}
    grouped = find_duplicates(photos, Thresholds())["groups"]
    kinds = {g["kind"] for g in grouped if burst & set(g["image_ids"])}
    strict = find_duplicates(photos, Thresholds(), similar=False)["groups"]
    assert {"similar"} == kinds
    assert set() == burst & {i for g in strict for i in g["image_ids"]}


def test_ten_thousand_hashes_take_one_pass(photos: PhotoSet) -> None:
    """A set of 2,000 unrelated random photos has no duplicates and finishes (sanity of the blocks)."""
    rng = np.random.default_rng(3)
    n = 2000
    vectors = rng.normal(size=(n, photos.vectors.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    base = photos.subset(np.zeros(n, dtype=np.int64))
    base.vectors, base.phash = vectors, rng.integers(0, 2**63, n, dtype=np.uint64)
    base.sha256 = np.array([f"{i:064x}" for i in range(n)])
    base.image_ids = np.array([f"r{i}" for i in range(n)])
    assert 0 == find_duplicates(base, Thresholds())["duplicates"]


# --- SUGGEST_ALTERNATIVE_IMAGES ------------------------------------------------------------
def test_alternatives_exclude_copies_and_rank_by_score(generated: GeneratedSet, photos: PhotoSet) -> None:
    """An original with an exact copy gets neither itself nor the copy; scores descend."""
    exact = next(shot for shot in generated.shots if shot.kind == "exact")
    original = next(s for s in generated.shots if s.scene == exact.scene and s.kind == "original")
    index = photos.image_ids.tolist().index(original.image_id)
    result = alternatives(photos, index, limit=10, min_similarity=0.0)
    shown = [a["image_id"] for a in result["alternatives"]]
    scores = [a["score"] for a in result["alternatives"]]
    assert [exact.image_id] == result["excluded_duplicates"]
    assert original.image_id not in shown
    assert exact.image_id not in shown
    assert (10, sorted(scores, reverse=True)) == (len(shown), scores)


def test_burst_frames_lead_the_alternatives(generated: GeneratedSet, photos: PhotoSet) -> None:
    """The other frames of a burst are the nearest alternatives, marked burst."""
    frame = next(shot for shot in generated.shots if shot.kind == "burst")
    siblings = {s.image_id for s in generated.shots if s.scene == frame.scene} - {frame.image_id}
    index = photos.image_ids.tolist().index(frame.image_id)
    result = alternatives(photos, index, limit=len(siblings), min_similarity=0.0)
    assert siblings == {a["image_id"] for a in result["alternatives"]}
    assert all(a["burst"] for a in result["alternatives"])


def test_unknown_image_is_not_found(photos: PhotoSet) -> None:
    """An image id the user never imported is a NotFound naming it."""
    with pytest.raises(NotFound, match="nope"):
        actions.select(photos, AlternativesParams(image_id="nope"))


# --- SUGGEST_PHOTOBOOK ---------------------------------------------------------------------
def test_chapters_match_the_generated_events(generated: GeneratedSet, photos: PhotoSet) -> None:
    """Each dated chapter is exactly one generated event; EXIF-less photos form the last chapter."""
    found = chapters(photos, min_gap_hours=6, place_change_km=50)
    ids = photos.image_ids.tolist()
    as_sets = [{ids[i] for i in rows} for rows in found]
    undated = {s.image_id for s in generated.shots if s.taken_at is None}
    assert [*generated.events(), undated] == as_sets


def test_a_move_between_cities_splits_a_day(photos: PhotoSet) -> None:
    """Two hours apart but 490 km apart: the place change starts a new chapter."""
    two = photos.subset(np.array([0, 2], dtype=np.int64))
    two.taken = np.array([0.0, 7200.0])
    two.lat, two.lon = np.array([47.3769, 48.8566]), np.array([8.5417, 2.3522])
    assert 2 == len(chapters(two, min_gap_hours=6, place_change_km=50))
    assert 1 == len(chapters(two, min_gap_hours=6, place_change_km=1000))


def test_photobook_pages_stay_in_bounds_without_duplicates(photos: PhotoSet, tmp_path: Path) -> None:
    """Pages within [min, max], at most 4 photos each, no two selected photos duplicates."""
    params = PhotobookParams(min_pages=8, max_pages=12)
    result = actions.run("SUGGEST_PHOTOBOOK", photos, params, _settings(tmp_path))
    pages = [page for chapter in result["chapters"] for page in chapter["pages"]]
    selected = [i for chapter in result["chapters"] for i in chapter["selected"]]
    groups = find_duplicates(photos, Thresholds())["groups"]
    assert 8 <= result["pages"] <= 12
    assert len(pages) == result["pages"]
    assert max(len(page["image_ids"]) for page in pages) <= 4
    assert all(len(set(g["image_ids"]) & set(selected)) <= 1 for g in groups)
    assert list(range(1, len(pages) + 1)) == [page["page"] for page in pages]


def test_photobook_titles_name_the_place_and_date(photos: PhotoSet, tmp_path: Path) -> None:
    """The first chapter is titled after Zurich (the generator's first city) and its day."""
    result = actions.run("SUGGEST_PHOTOBOOK", photos, PhotobookParams(), _settings(tmp_path))
    assert result["chapters"][0]["title"].endswith("1 June 2024")
    assert "Zurich" == result["chapters"][0]["place"]["region"]


def test_min_pages_above_max_pages_is_refused() -> None:
    """The params model names both bounds."""
    from mediaforge.errors import BadRequest

    with pytest.raises(BadRequest, match="min_pages"):
        parse_params("SUGGEST_PHOTOBOOK", {"min_pages": 50, "max_pages": 10})


def test_invalid_params_name_the_field() -> None:
    """A wrong type for limit is a BadRequest that says 'limit'."""
    from mediaforge.errors import BadRequest

    with pytest.raises(BadRequest, match="limit"):
        parse_params("SUGGEST_ALTERNATIVE_IMAGES", {"image_id": "a", "limit": "many"})


# --- SUGGEST_TEXT --------------------------------------------------------------------------
def test_text_without_a_provider_says_it_is_templated(photos: PhotoSet, tmp_path: Path) -> None:
    """Four events plus the undated chapter: five chapter texts, marked template."""
    result = actions.run("SUGGEST_TEXT", photos, TextParams(), _settings(tmp_path))
    assert ("template", True, 5) == (result["source"], result["templated"], len(result["chapters"]))
    assert "Paris" in result["book_title"]
    assert "June 2024" in result["book_title"]


class _Chat(BaseHTTPRequestHandler):
    answer: Any = None
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(body)
        status, payload = self.answer(body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def chat() -> Iterator[tuple[str, type[_Chat]]]:
    handler = type("Handler", (_Chat,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()


def _llm(tmp_path: Path, host: str) -> Settings:
    return _settings(
        tmp_path, text_llm_base_url=f"http://{host}/v1", text_llm_model="writer-1", fetch_allow_hosts=host
    )


def test_text_comes_from_the_llm_when_configured(photos: PhotoSet, tmp_path: Path, chat: Any) -> None:
    """The model gets the chapters' facts and its JSON becomes the result (source llm)."""
    host, handler = chat

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        facts = json.loads(body["messages"][1]["content"].split("(facts as JSON): ", 1)[1])
        chapters = [{"title": f"T{i}", "caption": f"C{i}"} for i in range(len(facts))]
        content = json.dumps({"book_title": "Summer", "chapters": chapters})
        return 200, {"choices": [{"message": {"content": content}}]}

    handler.answer = staticmethod(answer)
    result = actions.run("SUGGEST_TEXT", photos, TextParams(), _llm(tmp_path, host))
    assert ("llm", False, "Summer") == (result["source"], result["templated"], result["book_title"])
    assert ["T0", "C0"] == [result["chapters"][0]["title"], result["chapters"][0]["caption"]]
    assert "writer-1" == handler.seen[0]["model"]


def test_a_failing_llm_is_an_upstream_failure(photos: PhotoSet, tmp_path: Path, chat: Any) -> None:
    """HTTP 500 from the provider raises UpstreamFailed (502), not templated text."""
    host, handler = chat
    handler.answer = staticmethod(lambda body: (500, {"error": "down"}))
    with pytest.raises(UpstreamFailed) as caught:
        actions.run("SUGGEST_TEXT", photos, TextParams(), _llm(tmp_path, host))
    assert 502 == caught.value.status


def test_an_llm_answer_of_the_wrong_shape_is_an_upstream_failure(
    photos: PhotoSet, tmp_path: Path, chat: Any
) -> None:
    """One chapter text for five chapters is refused."""
    host, handler = chat
    content = json.dumps({"book_title": "X", "chapters": [{"title": "a", "caption": "b"}]})
    handler.answer = staticmethod(lambda body: (200, {"choices": [{"message": {"content": content}}]}))
    with pytest.raises(UpstreamFailed, match="5 chapters"):
        actions.run("SUGGEST_TEXT", photos, TextParams(), _llm(tmp_path, host))


def test_duplicates_params_select_a_subset(photos: PhotoSet, tmp_path: Path) -> None:
    """image_ids limits the search to those photos."""
    ids = photos.image_ids.tolist()[:2]
    subset = actions.select(photos, DuplicatesParams(image_ids=ids))
    result = actions.run("DETECT_DUPLICATES", subset, DuplicatesParams(image_ids=ids), _settings(tmp_path))
    assert (2, [ids]) == (result["photos"], [sorted(g["image_ids"]) for g in result["groups"]])


def test_the_import_processor_fans_out_one_analyze_child_per_image(tmp_path: Path) -> None:
    """photo.import run on its own params yields photo.analyze children carrying each image."""
    from types import SimpleNamespace

    from mediaforge.photos.schemas import ImportParams
    from mediaforge.processors.builtin.photo_import import PHOTO_IMPORT

    params = ImportParams.model_validate(
        {
            "user_id": "u",
            "images": [{"image_id": f"i{n}", "download_uri": f"https://x.test/{n}"} for n in range(3)],
        }
    )
    ctx = SimpleNamespace(settings=_settings(tmp_path, photos_embedding="mobilenet"))
    output = PHOTO_IMPORT.run(ctx, [], params)  # type: ignore[arg-type]
    assert ["photo.analyze"] * 3 == [child.type for child in output.children]
    assert ["i0", "i1", "i2"] == [child.params["image"]["image_id"] for child in output.children]
    assert {"mobilenet"} == {child.params["embedding"] for child in output.children}
