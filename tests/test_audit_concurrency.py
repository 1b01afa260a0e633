"""Concurrent writers append to one chain: it never forks, on PostgreSQL or SQLite."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_support import NOW, migrated_engine
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError

from troth.audit import Actor, AuditEvent, record_event, verify_chain
from troth.store import make_sessionmaker

PER_WRITER = 15


@pytest.fixture
def postgres_engine(postgres_url: str, tmp_path: Path) -> Iterator[Engine]:
    with migrated_engine("postgres", tmp_path, postgres_url) as engine:
        yield engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    with migrated_engine("sqlite", tmp_path, None) as engine:
        yield engine


def write_events(engine: Engine, writer: str, start: threading.Barrier) -> None:
    """One transaction per event, as services do; the barrier makes both writers start at once."""
    sessions = make_sessionmaker(engine)
    start.wait()
    for n in range(PER_WRITER):
        with sessions.begin() as session:
            record_event(
                session,
                actor=Actor.system(writer),
                action="test.step_done",
                details={"n": n},
                now=NOW,
            )


def run_two_writers(engine: Engine) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(writer: str) -> None:
        try:
            write_events(engine, writer, start)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("job.a", "job.b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def assert_one_valid_chain(engine: Engine, expected: int) -> None:
    with make_sessionmaker(engine)() as session:
        result = verify_chain(session, batch_size=10)
        actors = Counter(session.scalars(select(AuditEvent.actor_id)))
    assert result.ok, result.message
    assert result.count == expected
    assert actors == {"job.a": expected // 2, "job.b": expected // 2}


@pytest.mark.postgres
def test_two_concurrent_writers_on_postgresql_make_one_valid_chain(
    postgres_engine: Engine,
) -> None:
    run_two_writers(postgres_engine)
    assert_one_valid_chain(postgres_engine, 2 * PER_WRITER)


@pytest.mark.postgres
def test_a_second_postgresql_writer_waits_for_the_first_to_commit(
    postgres_engine: Engine,
) -> None:
    sessions = make_sessionmaker(postgres_engine)
    second: dict[str, object] = {}

    def second_writer() -> None:
        with sessions.begin() as session:
            event = record_event(
                session, actor=Actor.system("job.b"), action="test.step_done", now=NOW
            )
            second.update(seq=event.seq, prev_hash=event.prev_hash, at=time.monotonic())

    with sessions() as first_session, first_session.begin():
        first = record_event(
            first_session, actor=Actor.system("job.a"), action="test.step_done", now=NOW
        )
        thread = threading.Thread(target=second_writer)
        thread.start()
        # Commit only once the second writer is seen waiting on the advisory lock.
        with postgres_engine.connect() as observer:
            deadline = time.monotonic() + 10
            while not observer.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar():
                assert time.monotonic() < deadline, "the second writer never waited for the lock"
                time.sleep(0.02)
        committed_at = time.monotonic()
    thread.join(timeout=10)
    assert second["seq"] == first.seq + 1 == 2
    assert second["prev_hash"] == first.hash
    assert second["at"] > committed_at  # type: ignore[operator]
    assert_chain_of(postgres_engine, 2)


def assert_chain_of(engine: Engine, count: int) -> None:
    with make_sessionmaker(engine)() as session:
        result = verify_chain(session)
    assert (result.ok, result.count) == (True, count), result.message


def test_two_concurrent_writers_on_sqlite_make_one_valid_chain(sqlite_engine: Engine) -> None:
    run_two_writers(sqlite_engine)
    assert_one_valid_chain(sqlite_engine, 2 * PER_WRITER)


def test_a_sqlite_writer_with_a_stale_snapshot_fails_instead_of_forking(
    sqlite_engine: Engine,
) -> None:
    sessions = make_sessionmaker(sqlite_engine)
    with sessions() as stale:
        stale.begin()
        # This transaction reads the (empty) chain, then another one appends and commits.
        assert stale.scalar(select(func.count()).select_from(AuditEvent)) == 0
        with sessions.begin() as other:
            record_event(other, actor=Actor.system("job.b"), action="test.step_done", now=NOW)
        with pytest.raises(OperationalError, match="database is locked"):
            record_event(stale, actor=Actor.system("job.a"), action="test.step_done", now=NOW)
        stale.rollback()
    assert_chain_of(sqlite_engine, 1)
