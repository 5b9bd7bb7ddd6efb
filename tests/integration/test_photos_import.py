"""Import through the real engine (jobs, workers, SSRF-guarded downloads), then the actions.

The photos are served by a loopback HTTP server whose host:port is the only allow-listed host,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import make_settings
from tests.photos import PhotoSet as GeneratedSet
from tests.photos import pairs, photo_set

from mediaforge.engine.worker import Worker
from mediaforge.errors import NotFound
from mediaforge.jobs import service as jobs
from mediaforge.jobs.models import Job
from mediaforge.photos.models import Photo
from mediaforge.photos.service import Done, ImportImage, ImportParams, Started, import_job, run_action
from mediaforge.runtime import Runtime

OWNER = "acct-photos"
USER = "ifolor-user-1"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedSet:
    return photo_set(tmp_path_factory.mktemp("served"), events=2, duplicated=4, bursts=2)


@pytest.fixture(scope="module")
def server(generated: GeneratedSet) -> Iterator[str]:
    folder = generated.shots[0].path.parent
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def rt(tmp_path: Path, database_url: str, server: str) -> Iterator[Runtime]:
    settings = make_settings(
        tmp_path, database_url, fetch_allow_hosts=server, photos_faces=False, photos_sync_max_photos=1000
    )
    runtime = Runtime.from_settings(settings)
    worker = Worker(runtime, concurrency=2)
    worker.start()
    yield runtime
    worker.stop(drain_timeout=5)
    runtime.close()


def _wait(rt: Runtime, job_id: str, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        with rt.db.session(read_only=True) as session:
            job = session.get_one(Job, job_id)
            if job.status in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
                session.expunge(job)
                return job
        time.sleep(0.1)


def _import(rt: Runtime, images: list[ImportImage]) -> Job:
    with rt.db.session() as session:
        job, _ = jobs.create(
            session,
            OWNER,
            import_job(ImportParams(user_id=USER, images=images), settings=rt.settings),
            registry=rt.registry,
            settings=rt.settings,
            face="ifolor",
        )
        job_id = job.id
    return _wait(rt, job_id)


def _images(generated: GeneratedSet, host: str) -> list[ImportImage]:
    return [
        ImportImage(
            image_id=shot.image_id, download_uri=f"http://{host}/{shot.path.name}", metadata={"n": "1"}
        )
        for shot in generated.shots
    ]


def test_import_indexes_every_image_and_fails_only_bad_downloads(
    rt: Runtime, generated: GeneratedSet, server: str
) -> None:
    """A 404 and a private address fail their own children; the rest land in ``photos``."""
    bad = [
        ImportImage(image_id="missing", download_uri=f"http://{server}/missing.jpg"),
        ImportImage(image_id="private", download_uri="http://10.20.30.40/secret.jpg"),
    ]
    parent = _import(rt, _images(generated, server) + bad)
    summary = parent.result["children"] if parent.result else {}
    with rt.db.session(read_only=True) as session:
        stored = session.scalar(
            select(func.count()).select_from(Photo).where(Photo.owner_id == OWNER, Photo.user_id == USER)
        )
        view = jobs.view(session, session.get_one(Job, parent.id))
    total = len(generated.shots) + 2
    assert ("succeeded", len(generated.shots)) == (parent.status, stored)
    assert {"total": total, "pending": 0, "processing": 0, "completed": total - 2, "failed": 2} == summary
    assert view.children is not None
    assert total == view.children.total


def test_reimport_replaces_rows_instead_of_adding(rt: Runtime, generated: GeneratedSet, server: str) -> None:
    """Importing the same two images twice keeps two rows (upsert on owner, user, image)."""
    images = _images(generated, server)[:2]
    _import(rt, images)
    second = _import(rt, images)
    with rt.db.session(read_only=True) as session:
        count = session.scalar(select(func.count()).select_from(Photo).where(Photo.owner_id == OWNER))
    assert ("succeeded", 2) == (second.status, count)


def test_actions_run_on_the_imported_photos(rt: Runtime, generated: GeneratedSet, server: str) -> None:
    """Duplicates answer at once and find the known groups; the photobook runs as a job."""
    _import(rt, _images(generated, server))
    with rt.db.session() as session:
        found = run_action(
            session, OWNER, USER, "DETECT_DUPLICATES", {}, settings=rt.settings, registry=rt.registry
        )
        book = run_action(
            session,
            OWNER,
            USER,
            "SUGGEST_PHOTOBOOK",
            {"min_pages": 4, "max_pages": 8},
            settings=rt.settings,
            registry=rt.registry,
            storage=rt.storage,
        )
        assert isinstance(book, Started)
        book_id = book.job.id
    assert isinstance(found, Done)
    predicted = pairs([set(group["image_ids"]) for group in found.result["groups"]])
    assert pairs(generated.groups()) == predicted
    job = _wait(rt, book_id)
    assert ("succeeded", "photo.suggest_photobook") == (job.status, job.type)
    assert job.result is not None
    assert 4 <= job.result["pages"] <= 8
    dated = [set(c["image_ids"]) for c in job.result["chapters"] if c["start"]]
    assert generated.events() == dated


def test_actions_for_an_unknown_user_are_not_found(rt: Runtime) -> None:
    """A user with no imported photos is a NotFound."""
    with rt.db.session() as session, pytest.raises(NotFound, match="nobody"):
        run_action(
            session, OWNER, "nobody", "DETECT_DUPLICATES", {}, settings=rt.settings, registry=rt.registry
        )
