"""The change feed that decision caches in other processes follow: one row per write, listing
the subjects it changed, on SQLite and PostgreSQL, and the migration that gave it that shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from consent_support import NOW, STAFF, new_subject
from pg_support import postgres_schema
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from troth.consent import (
    ConsentInput,
    DecisionCache,
    record_consents,
    record_signal,
    require_renewal,
)
from troth.consent.models import ConsentChange
from troth.declaration import Policy
from troth.store import downgrade, make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring


def feed(sessions: sessionmaker[Session]) -> list[list[str] | None]:
    with sessions() as session:
        return list(session.scalars(select(ConsentChange.subject_ids).order_by(ConsentChange.seq)))


def test_a_batch_adds_one_row_naming_every_subject_it_changed(
    sessions: sessionmaker[Session], keyring: Keyring, kestrel_policy: Policy
) -> None:
    with sessions.begin() as session:
        people = [new_subject(session, keyring) for _ in range(3)]
    before = feed(sessions)
    items = [
        (people[0], ConsentInput("newsletter", "given")),
        (people[1], ConsentInput("newsletter", "refused")),
        (people[0], ConsentInput("site_analytics", "given")),
        (people[2], ConsentInput("newsletter", "given")),
        (people[1], ConsentInput("testimonials", "given")),
    ]
    with sessions.begin() as session:
        record_consents(session, kestrel_policy, items, actor=STAFF, now=NOW)
    assert feed(sessions) == [*before, people]

    with sessions.begin() as session:
        record_signal(session, kestrel_policy, people[1], "restriction", actor=STAFF, now=NOW)
    assert feed(sessions)[-1] == [people[1]]

    # A renewal concerns every subject: the row names none (SQL NULL, not a JSON null).
    with sessions.begin() as session:
        require_renewal(session, None, kestrel_policy, NOW, previous_unreadable=True)
        nulls = session.scalar(
            text("SELECT count(*) FROM consent_changes WHERE subject_ids IS NULL")
        )
    assert feed(sessions)[-1] is None
    assert nulls == 1


def test_a_cache_elsewhere_forgets_every_subject_of_one_row(
    ledger_engine: Engine, keyring: Keyring, kestrel_policy: Policy
) -> None:
    # Two sessionmakers: the follower learns of the writer's commit only through the feed.
    reader = make_sessionmaker(ledger_engine)
    writer = make_sessionmaker(ledger_engine)
    with writer.begin() as session:
        people = [new_subject(session, keyring) for _ in range(3)]
    cache = DecisionCache(kestrel_policy, reader)
    try:
        cache.poll()  # not started: each poll is made here, and its result seen
        for person in people:
            assert not cache.allows(person, "newsletter")
        with writer.begin() as session:
            record_consents(
                session,
                kestrel_policy,
                [(p, ConsentInput("newsletter", "given")) for p in people[:2]],
                actor=STAFF,
                now=datetime.now(UTC),
            )
        assert cache.poll() == 1
        assert cache.peek(people[0], "newsletter") is None
        assert cache.peek(people[1], "newsletter") is None
        assert cache.peek(people[2], "newsletter") is not None  # not in the batch: kept
        assert cache.allows(people[0], "newsletter") and cache.allows(people[1], "newsletter")
        assert cache.poll() == 0  # the look-back re-reads the row, but it is not new
        assert cache.peek(people[0], "newsletter") is not None
    finally:
        cache.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database migrated to revision 0007, the last in which the feed had one subject per row."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'feed.db'}")
        upgrade(engine, "0007")
        yield engine
        engine.dispose()
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        engine = make_engine(url)
        upgrade(engine, "0007")
        yield engine
        engine.dispose()


def test_the_migration_keeps_what_each_row_meant(engine_at_0007: Engine) -> None:
    insert_old = text(
        "INSERT INTO consent_changes (seq, subject_id, changed_at) VALUES (:seq, :sid, :at)"
    )
    with engine_at_0007.begin() as connection:
        connection.execute(insert_old, {"seq": 1, "sid": "subject-a", "at": NOW})
        connection.execute(insert_old, {"seq": 2, "sid": None, "at": NOW})
    upgrade(engine_at_0007)
    sessions = make_sessionmaker(engine_at_0007)
    assert feed(sessions) == [["subject-a"], None]

    with sessions.begin() as session:
        session.add(ConsentChange(seq=3, subject_ids=["subject-b", "subject-c"], changed_at=NOW))
        session.add(ConsentChange(seq=4, subject_ids=["subject-d"], changed_at=NOW))
    # Going back, a row naming several subjects can only become "every subject": a cache then
    # forgets more than it must, never less.
    downgrade(engine_at_0007, "0007")
    with engine_at_0007.connect() as connection:
        rows = connection.execute(
            text("SELECT seq, subject_id FROM consent_changes ORDER BY seq")
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, "subject-a"),
        (2, None),
        (3, None),
        (4, "subject-d"),
    ]
