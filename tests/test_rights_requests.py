"""Taking requests in: the subject by email, who asked kept encrypted, the timeline and audit
trail of every move, verification before anything else, denial, the queue and reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events
from notify_support import database_bytes
from rights_support import PARENT, REQUESTER, outbox, take_request
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from troth.declaration import Policy
from troth.notify import OutboxMessage
from troth.rights import (
    DeadlineReminder,
    IllegalTransition,
    QueueFilters,
    RequestInputError,
    approve,
    deny,
    due_reminders,
    get_request,
    mark_verified,
    queue,
    start_review,
    timeline,
)
from troth.rights.reminders import TEAM_EMAIL_ENV
from troth.subjects import Keyring
from troth.subjects.registry import find_subject

RELATIONSHIP = "father of Asha Rao"


def test_a_request_is_received_acknowledged_and_timed(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        request = take_request(session, kestrel_policy, keyring, "access", jurisdiction="eu-gdpr")
    with sessions() as session:
        stored = get_request(session, request.id)
        subject = find_subject(session, keyring, "email", REQUESTER)
        assert subject is not None and stored.subject_id == subject.id
        assert stored.state == "received" and stored.acknowledged_at == NOW
        assert stored.acknowledge_by == NOW + timedelta(hours=72)
        assert stored.complete_by == NOW + timedelta(days=30)
        assert [e.action for e in timeline(session, request.id)] == [
            "request_received",
            "request_acknowledged",
        ]
        [(to, text)] = outbox(session, keyring, "rights_received")
        assert to == REQUESTER and request.id in text
        actions = [e.action for e in audit_events(session)]
        assert "rights.request_received" in actions and "rights.request_acknowledged" in actions
        assert_audit_chain_clean(session, [REQUESTER, "Asha"])


def test_a_parent_acts_for_a_child_and_nothing_is_stored_in_plain_text(
    kestrel_policy: Policy, keyring: Keyring, ledger_engine: Engine
) -> None:
    sessions = sessionmaker(bind=ledger_engine, expire_on_commit=False)
    with sessions.begin() as session:
        request = take_request(
            session,
            kestrel_policy,
            keyring,
            "correction",
            acting_as="parent",
            requester_email=PARENT,
            relationship=RELATIONSHIP,
            proposed={"user.name": "Asha Rao-Menon"},
        )
    with sessions() as session:
        [(to, _text)] = outbox(session, keyring, "rights_received")
        assert to == PARENT  # the parent asked, the parent is answered
        assert get_request(session, request.id).acting_as == "parent"
        assert_audit_chain_clean(session, [REQUESTER, PARENT, "Rao", "father"])
    if ledger_engine.dialect.name == "sqlite":
        stored = database_bytes(ledger_engine)
        for secret in (REQUESTER, PARENT, "Rao-Menon", "father of"):
            assert secret.encode() not in stored


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "sell_my_data"}, "kind"),
        ({"kind": "nominate"}, "kind"),
        ({"email": "not an address"}, "email"),
        ({"acting_as": "lawyer"}, "acting_as"),
        ({"acting_as": "nominee", "requester_email": PARENT}, "relationship"),
        ({"acting_as": "parent", "relationship": "mother"}, "requester_email"),
        ({"relationship": "self"}, "relationship"),
        ({"jurisdiction": "uk-gdpr"}, "jurisdiction"),
        ({"kind": "correction"}, "proposed"),
        ({"kind": "correction", "proposed": {"user.shoe_size": "9"}}, "proposed.user.shoe_size"),
        ({"kind": "access", "proposed": {"user.name": "x"}}, "proposed"),
    ],
)
def test_bad_input_names_the_field(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    fields: dict,
    field: str,
) -> None:
    arguments = {"kind": "access", "email": REQUESTER} | fields
    with sessions.begin() as session, pytest.raises(RequestInputError) as refused:
        take_request(session, kestrel_policy, keyring, **arguments)
    assert refused.value.field == field
    assert REQUESTER not in str(refused.value)


def test_nothing_moves_before_verification(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        request_id = take_request(session, kestrel_policy, keyring).id
    for step in (start_review, approve):
        with sessions.begin() as session, pytest.raises(IllegalTransition):
            step(session, request_id, now=NOW, actor=STAFF)
    with sessions.begin() as session:
        mark_verified(session, request_id, method="email_code", now=NOW, actor=STAFF)
        start_review(session, request_id, now=NOW, actor=STAFF)
    with sessions() as session:
        request = get_request(session, request_id)
        assert request.state == "in_review" and request.verification_method == "email_code"
        entries = timeline(session, request_id)
        assert [(e.from_state, e.to_state) for e in entries[-2:]] == [
            ("received", "verified"),
            ("verified", "in_review"),
        ]
        verified = audit_events(session, "rights.request_verified")
        assert verified[0].details["method"] == "email_code"


def test_a_denial_tells_the_requester_why(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        request_id = take_request(session, kestrel_policy, keyring).id
        deny(
            session,
            kestrel_policy,
            keyring,
            request_id,
            reason="We could not verify you",
            now=NOW,
            actor=STAFF,
        )
    with sessions() as session:
        assert get_request(session, request_id).state == "denied"
        [(_to, text)] = outbox(session, keyring, "rights_denied")
        assert "could not verify you" in text
    with sessions.begin() as session, pytest.raises(IllegalTransition, match="final"):
        mark_verified(session, request_id, method="email_code", now=NOW, actor=STAFF)


def test_the_queue_puts_overdue_requests_first(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        old = take_request(
            session, kestrel_policy, keyring, email="old@example.com", now=NOW - timedelta(days=40)
        ).id
        newer = take_request(session, kestrel_policy, keyring, email="newer@example.com").id
        older = take_request(
            session,
            kestrel_policy,
            keyring,
            email="older@example.com",
            now=NOW - timedelta(days=5),
            jurisdiction="eu-gdpr",
        ).id
        closed = take_request(
            session,
            kestrel_policy,
            keyring,
            email="closed@example.com",
            now=NOW - timedelta(days=50),
        ).id
        deny(session, kestrel_policy, keyring, closed, reason="Duplicate", now=NOW, actor=STAFF)
    with sessions() as session:
        entries = queue(session, QueueFilters(), NOW)
        assert [e.request.id for e in entries] == [old, older, newer]
        assert [e.overdue for e in entries] == [True, False, False]
        assert entries[0].next_deadline == "complete"
        assert [e.request.id for e in queue(session, QueueFilters(overdue_only=True), NOW)] == [old]
        assert [
            e.request.id for e in queue(session, QueueFilters(jurisdiction="eu-gdpr"), NOW)
        ] == [older]
        assert [e.request.id for e in queue(session, QueueFilters(state="denied"), NOW)] == [closed]


def test_reminders_go_once_per_deadline(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TEAM_EMAIL_ENV, "dpo-team@kestrel.example")
    with sessions.begin() as session:
        due_soon = take_request(session, kestrel_policy, keyring, now=NOW - timedelta(days=29)).id
        take_request(session, kestrel_policy, keyring, email="later@example.com")
    with sessions.begin() as session:
        assert due_reminders(session, kestrel_policy, keyring, NOW) == 1
    with sessions.begin() as session:
        assert due_reminders(session, kestrel_policy, keyring, NOW + timedelta(hours=1)) == 0
    with sessions() as session:
        [(to, text)] = outbox(session, keyring, "rights_reminder")
        assert to == "dpo-team@kestrel.example" and due_soon in text
        assert REQUESTER not in text
        rows = session.scalars(select(DeadlineReminder)).all()
        assert [(r.request_id, r.deadline) for r in rows] == [(due_soon, "complete")]


def test_reminders_fall_back_to_the_privacy_officer(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TEAM_EMAIL_ENV, raising=False)
    with sessions.begin() as session:
        take_request(session, kestrel_policy, keyring, now=NOW - timedelta(days=31))
        assert due_reminders(session, kestrel_policy, keyring, NOW) == 1
    with sessions() as session:
        [(to, text)] = outbox(session, keyring, "rights_reminder")
        assert to == "privacy@kestrel.example" and "that time has passed" in text
        total = session.scalar(select(func.count()).select_from(OutboxMessage))
        assert total == 2  # the acknowledgement and the one reminder
