"""verify_chain finds the first altered, removed or reordered event, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_support import execute, migrated_engine, record_many, swap_seq
from sqlalchemy import Engine

from troth.audit import GENESIS_HASH, VerifyResult, event_hash, verify_chain
from troth.audit.chain import HASHED_FIELDS
from troth.store import make_sessionmaker

EVENTS = 40
BATCH = 7  # smaller than the chain, so every test crosses batch boundaries


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with migrated_engine(request.param, tmp_path, postgres_url) as engine:
        yield engine


def verify(engine: Engine) -> VerifyResult:
    with make_sessionmaker(engine)() as session:
        return verify_chain(session, batch_size=BATCH)


def test_an_empty_trail_verifies(engine: Engine) -> None:
    result = verify(engine)
    assert (result.ok, result.count, result.last_hash) == (True, 0, GENESIS_HASH)
    assert result.message == "0 events verified"


def test_a_long_chain_verifies_across_batches(engine: Engine) -> None:
    events = record_many(engine, EVENTS)
    result = verify(engine)
    assert result.ok, result.message
    assert result.count == EVENTS
    assert result.first_bad_seq is None and result.problem is None
    assert result.last_hash == events[-1].hash
    assert result.message == f"{EVENTS} events verified"


def test_appending_later_keeps_the_chain_valid(engine: Engine) -> None:
    record_many(engine, 3)
    later = record_many(engine, 2)
    assert later[0].seq == 4
    assert verify(engine).count == 5


@pytest.mark.parametrize(
    ("column", "value"),
    [("details", {"step": 999}), ("actor_id", "someone.else"), ("subject_id", "sub_other")],
)
def test_an_edited_row_is_reported_as_altered_at_its_seq(
    engine: Engine, column: str, value: object
) -> None:
    record_many(engine, EVENTS)
    param = "details" if column == "details" else "value"
    execute(engine, f"UPDATE audit_events SET {column} = :{param} WHERE seq = 23", **{param: value})
    result = verify(engine)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 23, "altered")
    assert result.count == 22
    assert result.message == "event seq 23: altered — its content no longer matches its hash"


def test_a_deleted_middle_row_is_reported_as_removed(engine: Engine) -> None:
    record_many(engine, EVENTS)
    execute(engine, "DELETE FROM audit_events WHERE seq = 17")
    result = verify(engine)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 17, "removed")
    assert result.count == 16
    assert result.message == "event seq 17: removed — seq 17 is missing (the next event is seq 18)"


def test_several_deleted_rows_are_named_as_a_range(engine: Engine) -> None:
    record_many(engine, EVENTS)
    execute(engine, "DELETE FROM audit_events WHERE seq BETWEEN 5 AND 7")
    result = verify(engine)
    assert (result.first_bad_seq, result.problem) == (5, "removed")
    assert result.reason == "seqs 5–7 are missing (the next event is seq 8)"


def test_a_deleted_first_row_is_reported_as_removed(engine: Engine) -> None:
    record_many(engine, 5)
    execute(engine, "DELETE FROM audit_events WHERE seq = 1")
    result = verify(engine)
    assert (result.ok, result.count, result.first_bad_seq, result.problem) == (
        False,
        0,
        1,
        "removed",
    )


def test_a_deletion_hidden_by_renumbering_is_still_removed(engine: Engine) -> None:
    record_many(engine, 12)
    execute(engine, "DELETE FROM audit_events WHERE seq = 6")
    for seq in range(7, 13):  # close the gap, one row at a time (seq is unique)
        execute(engine, "UPDATE audit_events SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    result = verify(engine)
    assert (result.first_bad_seq, result.problem) == (6, "removed")
    assert result.reason is not None and "matches no event" in result.reason


def test_a_forged_row_with_a_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    events = record_many(engine, 10)
    # The tamperer edits event 4 and also writes the hash its new content gives.
    forged = {name: getattr(events[3], name) for name in HASHED_FIELDS}
    forged["details"] = {"step": 3, "items": [], "note": "nothing to see"}
    execute(
        engine,
        "UPDATE audit_events SET details = :details, hash = :h WHERE seq = 4",
        details=forged["details"],
        h=event_hash(forged),
    )
    result = verify(engine)
    assert (result.first_bad_seq, result.problem) == (5, "removed")
    assert result.reason == (
        "its prev_hash matches no event: an event between event seq 4 and this one was removed "
        "(or the event before it replaced)"
    )


@pytest.mark.parametrize(
    ("first", "second", "chained_after"),
    [
        (20, 21, 21),  # neighbours: event 21 now at 20 links to old 20, which now sits at 21
        (9, 30, 29),  # far apart: event 30 now at 9 links to event 29, still in place
    ],
)
def test_swapped_rows_are_reported_as_reordered(
    engine: Engine, first: int, second: int, chained_after: int
) -> None:
    record_many(engine, EVENTS)
    swap_seq(engine, first, second)
    result = verify(engine)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, first, "reordered")
    assert result.count == first - 1
    assert result.message == (
        f"event seq {first}: reordered — it was chained after event seq {chained_after}, "
        f"not after seq {first - 1}"
    )
