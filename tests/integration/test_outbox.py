"""The outbox on SQLite and PostgreSQL: event ids follow commit order, so a reader never skips one."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from mediaforge.events import repository as events
from mediaforge.events.models import Event
from mediaforge.runtime import Runtime

WRITERS = 4
COMMITS = 150


def test_a_reader_following_ids_misses_no_event_of_concurrent_writers(runtime: Runtime) -> None:
    """Writers commit events side by side while a reader follows ``id > last seen``: it sees them all."""
    done = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            for n in range(COMMITS):
                with runtime.db.session() as session:
                    for part in range(2):
                        events.append(
                            session, "test.written", owner_id="o", payload={"w": writer, "n": n, "p": part}
                        )
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    def follow() -> None:
        while True:
            finished = done.is_set()  # read once more after the writers ended
            with runtime.db.session(read_only=True) as session:
                page = events.since(session, after_id=seen[-1] if seen else 0, limit=10_000)
            seen.extend(e.id for e in page)
            if finished and not page:
                return
            time.sleep(0.001)  # poll, as a real follower does, without starving the writers of the GIL

    reader = threading.Thread(target=follow)
    reader.start()
    writers = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    assert [] == failures
    with runtime.db.session(read_only=True) as session:
        written = list(session.scalars(select(Event.id).order_by(Event.id)))
    assert (WRITERS * COMMITS * 2, written) == (len(seen), seen)


def test_events_appended_in_a_savepoint_are_written_at_the_real_commit(runtime: Runtime) -> None:
    """A savepoint's release writes nothing; the outer commit writes its events, in append order."""
    with runtime.db.session() as session:
        events.append(session, "test.first", owner_id="o", payload={})
        with session.begin_nested():
            events.append(session, "test.second", owner_id="o", payload={})
        assert [] == list(session.scalars(select(Event.type)))
        events.append(session, "test.third", owner_id="o", payload={})
    with runtime.db.session(read_only=True) as session:
        written = list(session.scalars(select(Event.type).order_by(Event.id)))
    assert ["test.first", "test.second", "test.third"] == written
