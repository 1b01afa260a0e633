"""Recording audit events: the chain's fields and hashes, the caller's transaction, the guards."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from audit_support import JOB, NOW, count_events, execute, record_many
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from support import ROOT
from test_layout import troth_imports

from troth.audit import GENESIS_HASH, Actor, ActorKind, AuditEvent, event_hash, record_event
from troth.audit.chain import HASHED_FIELDS
from troth.store import make_engine, make_sessionmaker, upgrade


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_sessionmaker(engine)() as session:
        yield session


def test_events_are_numbered_and_chained_from_sixty_four_zeros(engine: Engine) -> None:
    first, second, third = record_many(engine, 3)
    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH == "0" * 64
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3


def test_the_hash_is_sha256_of_the_documented_canonical_json(session: Session) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    event = record_event(
        session,
        actor=Actor.staff("stf_42"),
        action="subject.erased",
        subject_id="sub_9f3a",
        policy_version="3.0",
        details={"fields": 3, "datasets": ["crm", "billing"], "zeta": True, "alpha": None},
        now=datetime(2026, 11, 1, 15, 0, tzinfo=india),
    )
    # Written out by hand, as an auditor re-implementing docs/audit.md would.
    canonical = (
        '{"action":"subject.erased","actor_id":"stf_42","actor_kind":"staff",'
        '"details":{"alpha":null,"datasets":["crm","billing"],"fields":3,"zeta":true},'
        '"occurred_at":"2026-11-01T09:30:00.000000+00:00","policy_version":"3.0",'
        f'"prev_hash":"{GENESIS_HASH}","seq":1,"subject_id":"sub_9f3a"}}'
    )
    assert event.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert event.occurred_at == NOW  # stored in UTC
    assert event.occurred_at.tzinfo is UTC


def test_stored_events_read_back_to_the_same_hash(engine: Engine) -> None:
    recorded = record_many(engine, 5)
    with make_sessionmaker(engine)() as fresh:
        stored = list(fresh.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    for before, after in zip(recorded, stored, strict=True):
        assert after is not before
        fields = {name: getattr(after, name) for name in HASHED_FIELDS}
        assert fields == {name: getattr(before, name) for name in HASHED_FIELDS}
        assert event_hash(fields) == after.hash == before.hash


def test_the_event_belongs_to_the_callers_transaction(engine: Engine, session: Session) -> None:
    record_event(session, actor=JOB, action="test.step_done", now=NOW)
    session.rollback()
    assert count_events(session) == 0
    record_event(session, actor=JOB, action="test.step_done", now=NOW)
    with make_sessionmaker(engine)() as other:
        assert count_events(other) == 0  # not committed: invisible elsewhere
    session.commit()
    with make_sessionmaker(engine)() as other:
        assert count_events(other) == 1


def test_several_events_in_one_transaction_chain_to_each_other(session: Session) -> None:
    first = record_event(session, actor=JOB, action="test.step_done", now=NOW)
    second = record_event(session, actor=JOB, action="test.step_done", now=NOW)
    session.commit()
    assert (second.seq, second.prev_hash) == (2, first.hash)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("details", {"email": "asha@example.com"}),
        ("details", {"recipients": ["ok", "Asha.Rao+news@mail.example.in"]}),
        ("details", {"by_address": {"asha@example.com": 1}}),
        ("details", {"nested": {"deeper": {"to": "x@y.io"}}}),
        ("subject_id", "asha@example.com"),
    ],
)
def test_values_that_look_like_email_addresses_are_refused(
    session: Session, field: str, value: object
) -> None:
    with pytest.raises(ValueError, match="looks like an email address") as raised:
        record_event(session, actor=JOB, action="test.step_done", now=NOW, **{field: value})  # type: ignore[arg-type]
    assert "opaque ids and counts only" in str(raised.value)
    session.commit()
    assert count_events(session) == 0


def test_an_actor_named_by_email_address_is_refused() -> None:
    with pytest.raises(ValueError, match="actor id looks like an email address"):
        Actor.staff("dpo@kestrel.example")
    with pytest.raises(ValueError, match="needs an id"):
        Actor.system("")


def test_ids_counts_and_hashes_are_accepted(session: Session) -> None:
    event = record_event(
        session,
        actor=Actor.api_key("key_7QX"),
        action="consent.given",
        subject_id="sub_01HZX",
        details={"purposes": 2, "at": "2026-11-01", "ratio": 0.5, "hash": "ab" * 32},
        now=NOW,
    )
    assert event.actor_kind == "api_key"
    assert event.details["ratio"] == 0.5


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, "must be JSON data"),
        ({"ratio": float("nan")}, "must be JSON data"),
    ],
)
def test_details_must_be_plain_json(
    session: Session, details: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        record_event(session, actor=JOB, action="test.step_done", details=details, now=NOW)


@pytest.mark.parametrize("action", ["", "recorded", "Policy.Recorded", "policy version", "policy."])
def test_actions_are_dotted_lower_case_names(session: Session, action: str) -> None:
    with pytest.raises(ValueError, match="dotted lower-case name"):
        record_event(session, actor=JOB, action=action, now=NOW)


def test_a_naive_now_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        record_event(session, actor=JOB, action="test.step_done", now=datetime(2026, 11, 1))


def test_the_table_accepts_only_the_four_kinds_of_actor(engine: Engine) -> None:
    assert [kind.value for kind in ActorKind] == ["staff", "api_key", "subject", "system"]
    with pytest.raises(IntegrityError):
        execute(
            engine,
            "INSERT INTO audit_events (seq, occurred_at, actor_kind, actor_id, action, details,"
            " prev_hash, hash) VALUES (1, '2026-11-01 09:30:00', 'robot', 'r2', 'x.y', '{}',"
            " :h, :h)",
            h=GENESIS_HASH,
        )


def test_the_migration_names_its_constraints(engine: Engine) -> None:
    inspector = inspect(engine)
    uniques = {u["name"] for u in inspector.get_unique_constraints("audit_events")}
    indexes = {i["name"] for i in inspector.get_indexes("audit_events")}
    checks = {c["name"] for c in inspector.get_check_constraints("audit_events")}
    assert uniques == {"uq_audit_events_seq"}
    assert "ix_audit_events_subject_id" in indexes
    assert checks == {"ck_audit_events_actor_kind"}


def test_the_audit_package_builds_only_on_the_store() -> None:
    for path in sorted((ROOT / "troth" / "audit").rglob("*.py")):
        imported = {
            name
            for name in troth_imports(path)
            if not name.startswith(("troth.audit", "troth.store"))
        }
        assert not imported, f"{Path(path).relative_to(ROOT)} imports {sorted(imported)}"
