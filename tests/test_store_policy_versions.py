"""Recording published policy versions: idempotent, never edited in place, in history order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support import dump, kestrel_data

from troth.audit import AuditEvent, verify_chain
from troth.declaration import Policy, read_declaration
from troth.declaration.render import render_html_fragment, render_markdown
from troth.publishing import (
    PolicyVersion,
    VersionConflict,
    current_version,
    get_version,
    list_versions,
    locate_version,
    publish,
    record_version,
)
from troth.publishing import versions as versions_module
from troth.store import make_engine, make_sessionmaker, upgrade

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def edited_kestrel(summary: str, version: str | None = None) -> Policy:
    """The Kestrel example with a changed summary (and optionally a new version string)."""
    data = kestrel_data()
    data["policy"]["summary"] = summary
    if version is not None:
        data["policy"]["version"] = version
    policy, problems = read_declaration(dump(data), "edited.yaml")
    assert policy is not None, problems
    return policy


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(PolicyVersion)) or 0


def audit_events(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_recording_stores_the_declaration_and_its_rendered_text(
    session: Session, kestrel_policy: Policy
) -> None:
    row, created = record_version(session, kestrel_policy, NOW)
    session.commit()
    assert created is True
    stored = get_version(session, "3.0")
    assert stored is row
    assert stored.effective_date.isoformat() == "2026-09-01"
    assert stored.content_hash == kestrel_policy.content_hash
    assert stored.organization == "Kestrel Software"
    assert stored.declaration_yaml == kestrel_policy.source_text
    assert "policy:" in stored.declaration_yaml
    assert stored.rendered_markdown == render_markdown(kestrel_policy)
    assert stored.rendered_html == render_html_fragment(kestrel_policy)
    assert stored.short_hash == kestrel_policy.content_hash[:12]
    [event] = audit_events(session)
    assert (event.action, event.actor_kind, event.actor_id) == (
        "policy.version_recorded",
        "system",
        "troth.publishing",
    )
    assert event.policy_version == "3.0"
    assert event.details == {"version": "3.0", "content_hash": kestrel_policy.content_hash}
    assert event.subject_id is None
    assert event.occurred_at == NOW
    assert verify_chain(session).ok


def test_recorded_at_comes_back_timezone_aware_utc(
    session: Session, sqlite_url: str, kestrel_policy: Policy
) -> None:
    record_version(session, kestrel_policy, NOW)
    session.commit()
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as fresh:
        stored = get_version(fresh, "3.0")
        assert stored is not None
        assert stored.recorded_at == NOW
        assert stored.recorded_at.tzinfo is UTC
    engine.dispose()


def test_recording_the_same_declaration_again_changes_nothing(
    session: Session, kestrel_policy: Policy
) -> None:
    first, created = record_version(session, kestrel_policy, NOW)
    session.commit()
    again, created_again = record_version(session, kestrel_policy, NOW + timedelta(days=3))
    session.commit()
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert again.recorded_at == NOW  # the first publication's time is kept
    assert count(session) == 1
    assert len(audit_events(session)) == 1  # nothing changed, so nothing to audit


def test_changed_content_under_a_published_version_is_refused(
    session: Session, kestrel_policy: Policy
) -> None:
    record_version(session, kestrel_policy, NOW)
    session.commit()
    changed = edited_kestrel("We changed what we do but forgot to say so.")
    assert changed.version == "3.0"
    with pytest.raises(VersionConflict) as raised:
        record_version(session, changed, NOW)
    message = str(raised.value)
    assert "version 3.0 was already published with different content" in message
    assert f"(hash {kestrel_policy.content_hash[:12]}…)" in message
    assert "give the changed declaration a new policy.version" in message
    assert raised.value.new_hash == changed.content_hash
    assert count(session) == 1
    assert get_version(session, "3.0").content_hash == kestrel_policy.content_hash  # type: ignore[union-attr]
    assert [event.policy_version for event in audit_events(session)] == ["3.0"]


def test_a_changed_declaration_with_a_new_version_is_a_new_row(
    session: Session, kestrel_policy: Policy
) -> None:
    record_version(session, kestrel_policy, NOW)
    changed = edited_kestrel("A clearer summary.", version="3.1")
    row, created = record_version(session, changed, NOW)
    session.commit()
    assert created is True
    assert row.version == "3.1"
    assert count(session) == 2


def test_history_is_newest_effective_date_first_whatever_the_recording_order(
    session: Session, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    v1, v2 = kestrel_history
    for offset, policy in enumerate([v2, kestrel_policy, v1]):
        record_version(session, policy, NOW + timedelta(minutes=offset))
    session.commit()
    assert [row.version for row in list_versions(session)] == ["3.0", "2.0", "1.0"]
    assert current_version(session).version == "3.0"  # type: ignore[union-attr]


def test_same_effective_date_the_later_recorded_comes_first(
    session: Session, kestrel_policy: Policy
) -> None:
    record_version(session, kestrel_policy, NOW)
    correction = edited_kestrel("Typo fixed in the summary.", version="3.0.1")
    assert correction.effective_date == kestrel_policy.effective_date
    record_version(session, correction, NOW + timedelta(hours=1))
    session.commit()
    assert [row.version for row in list_versions(session)] == ["3.0.1", "3.0"]
    assert current_version(session).version == "3.0.1"  # type: ignore[union-attr]


def test_lookups_on_an_empty_history(session: Session) -> None:
    assert list_versions(session) == []
    assert current_version(session) is None
    assert get_version(session, "1.0") is None
    assert locate_version(session, "1.0") is None


def test_locate_version_names_its_successor_and_the_current_version(
    session: Session, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    for policy in [*kestrel_history, kestrel_policy]:
        record_version(session, policy, NOW)
    session.commit()
    old = locate_version(session, "1.0")
    assert old is not None
    assert old.superseded_by is not None and old.superseded_by.version == "2.0"
    assert old.current.version == "3.0"
    assert old.is_current is False
    newest = locate_version(session, "3.0")
    assert newest is not None
    assert newest.superseded_by is None
    assert newest.is_current is True
    assert locate_version(session, "9.9") is None


def test_a_naive_now_is_refused(session: Session, kestrel_policy: Policy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        record_version(session, kestrel_policy, datetime(2026, 11, 1, 9, 30))
    assert count(session) == 0


def test_a_concurrent_recording_of_the_same_version_is_not_an_error(
    session: Session, kestrel_policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers starting at once: the loser's insert fails and it returns the winner's row."""
    record_version(session, kestrel_policy, NOW)
    session.commit()
    real_find = versions_module._find
    calls: list[Policy] = []

    def find_after_the_race(session: Session, policy: Policy) -> PolicyVersion | None:
        calls.append(policy)
        return None if len(calls) == 1 else real_find(session, policy)

    monkeypatch.setattr(versions_module, "_find", find_after_the_race)
    row, created = record_version(session, kestrel_policy, NOW + timedelta(seconds=1))
    session.commit()
    assert created is False
    assert row.recorded_at == NOW
    assert len(calls) == 2
    assert count(session) == 1
    assert len(audit_events(session)) == 1  # the loser records no event


def test_publish_records_a_history_all_or_nothing(
    sqlite_url: str, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    engine = make_engine(sqlite_url)
    results = publish(engine, kestrel_history, NOW)
    assert [(row.version, created) for row, created in results] == [("1.0", True), ("2.0", True)]
    conflicting = edited_kestrel("Different words.", version="2.0")
    with pytest.raises(VersionConflict):
        publish(engine, [kestrel_policy, conflicting], NOW)
    with make_sessionmaker(engine)() as session:
        # 3.0 came before the conflict in the same call, and was not kept either.
        assert [row.version for row in list_versions(session)] == ["2.0", "1.0"]
        # Nor was its audit event: the event lives and dies with the change it records.
        assert [event.policy_version for event in audit_events(session)] == ["1.0", "2.0"]
        assert verify_chain(session).count == 2
    engine.dispose()
