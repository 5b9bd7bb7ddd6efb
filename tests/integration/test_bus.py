"""The event bus contract, against every backend: in-process, PostgreSQL LISTEN/NOTIFY, Redis pub/sub.

Redis is required in CI (``CI=true``) and skipped locally only when nothing answers on 127.0.0.1:6379.
"""

from __future__ import annotations

import os
import queue
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import make_settings

from mediaforge.events import repository as events
from mediaforge.events.bus import Bus, MemoryBus, PostgresBus, RedisBus, announcing, bus_from_settings
from mediaforge.runtime import Runtime

REDIS_URL = os.environ.get("MEDIAFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
WAIT = 10.0


def _redis_reachable() -> bool:
    host_port = REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        socket.create_connection((host, int(port or 6379)), timeout=1).close()
        return True
    except OSError:
        return False


def require_redis() -> None:
    if not _redis_reachable():
        if os.environ.get("CI"):
            pytest.fail("Redis is required in CI but is not reachable")
        pytest.skip("Redis not reachable")


BusFactory = Callable[[], Bus]
PG = pytest.mark.postgres
KINDS = [pytest.param("memory"), pytest.param("postgres", marks=PG), pytest.param("redis")]
WITH_DATABASES = [
    pytest.param("memory", "sqlite", id="memory-sqlite"),
    pytest.param("memory", "postgres", id="memory-postgres", marks=PG),
    pytest.param("postgres", "postgres", id="postgres", marks=PG),
    pytest.param("redis", "sqlite", id="redis-sqlite"),
    pytest.param("redis", "postgres", id="redis-postgres", marks=PG),
]


@pytest.fixture
def new_bus(kind: str, request: pytest.FixtureRequest) -> Iterator[BusFactory]:
    """Makes started buses of ``kind`` that talk to each other (closed after the test)."""
    if kind == "redis":
        require_redis()
    database_url = request.getfixturevalue("pg_database") if kind == "postgres" else ""
    channel = f"mediaforge_test_{uuid.uuid4().hex[:8]}"
    made: list[Bus] = []

    def make() -> Bus:
        bus: Bus
        if kind == "memory":
            bus = MemoryBus()
        elif kind == "postgres":
            bus = PostgresBus(database_url)
        else:
            bus = RedisBus(REDIS_URL, channel=channel)
        bus.start()
        made.append(bus)
        if isinstance(bus, PostgresBus | RedisBus):
            assert bus.wait_ready(WAIT), f"{kind} bus did not start listening"
        return bus

    yield make
    for bus in made:
        bus.close()


def commit_one_event(runtime: Runtime) -> int:
    """Write one event through the outbox, as a state change does, and return its id."""
    with runtime.db.session() as session:
        events.append(session, "job.updated", owner_id="bus-test", payload={"n": 1})
    with runtime.db.session(read_only=True) as session:
        return events.last_id(session)


@pytest.mark.parametrize("kind", KINDS)
def test_publish_wakes_local_listeners_at_once(new_bus: BusFactory) -> None:
    """A published id reaches this process's listeners before ``publish`` returns."""
    bus = new_bus()
    got: list[int] = []
    bus.subscribe(got.append)
    bus.publish(42)
    assert [42] == got


@pytest.mark.parametrize(("kind", "database_url"), WITH_DATABASES, indirect=["database_url"])
def test_a_commit_wakes_listeners_of_another_bus_with_its_last_id(
    kind: str, new_bus: BusFactory, runtime: Runtime
) -> None:
    """After a commit that wrote events, a listener on another node's bus hears the last id."""
    writer = new_bus()
    reader = writer if kind == "memory" else new_bus()  # in-process: there is no other node
    heard: queue.Queue[int] = queue.Queue()
    reader.subscribe(heard.put)
    events.on_commit(writer.publish)
    try:
        last = commit_one_event(runtime)
    finally:
        events.off_commit(writer.publish)
    assert last == heard.get(timeout=WAIT)
    if reader is not writer:
        assert last == reader.last_received


@pytest.mark.parametrize("kind", KINDS)
def test_an_unsubscribed_listener_hears_nothing_more(new_bus: BusFactory) -> None:
    """``unsubscribe`` stops the calls."""
    bus = new_bus()
    got: list[int] = []
    bus.subscribe(got.append)
    bus.unsubscribe(got.append)
    bus.publish(7)
    assert [] == got


@pytest.mark.parametrize(
    ("bus_url", "database_url", "expected"),
    [
        ("", "sqlite:///x.db", MemoryBus),
        ("", "postgresql://u@h/db", PostgresBus),
        ("memory://", "postgresql://u@h/db", MemoryBus),
        ("redis://127.0.0.1:6379/0", "sqlite:///x.db", RedisBus),
    ],
    ids=["sqlite-default", "postgres-default", "memory", "redis"],
)
def test_the_bus_is_chosen_by_bus_url_and_database(
    tmp_path: Path, bus_url: str, database_url: str, expected: type[Bus]
) -> None:
    """'' follows the database (NOTIFY on PostgreSQL, in-process on SQLite); a URL picks explicitly."""
    settings = make_settings(tmp_path, database_url, bus_url=bus_url)
    assert expected is type(bus_from_settings(settings))


def test_an_unknown_bus_url_is_refused(tmp_path: Path) -> None:
    """A typo in ``bus_url`` fails at startup instead of silently falling back."""
    settings = make_settings(tmp_path, "sqlite:///x.db", bus_url="kafka://broker")
    with pytest.raises(ValueError, match="unsupported bus_url"):
        bus_from_settings(settings)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_process_without_a_hub_announces_its_commits_on_redis(tmp_path: Path, database_url: str) -> None:
    """``announcing`` (for ``mediaforge worker``) publishes each commit's last id to the Redis bus."""
    require_redis()
    settings = make_settings(tmp_path, database_url, bus_url=REDIS_URL)
    listener = RedisBus(REDIS_URL)
    heard: queue.Queue[int] = queue.Queue()
    listener.subscribe(heard.put)
    listener.start()
    runtime = Runtime.from_settings(settings)
    try:
        assert listener.wait_ready(WAIT)
        with announcing(settings):
            last = commit_one_event(runtime)
        deadline = time.monotonic() + WAIT
        while heard.get(timeout=WAIT) != last:  # other processes may share the channel
            assert time.monotonic() < deadline
    finally:
        runtime.close()
        listener.close()
