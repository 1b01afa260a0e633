"""Signals in the consent ledger on SQLite and PostgreSQL: restriction, objection and child raised,
lifted, audited and folded into the state, and bad signals refused."""

from __future__ import annotations

import pytest
from consent_support import DAY, NOW, STAFF, audit_events, counts
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from troth.consent import ConsentInputError, SignalKind, load_state, record_signal
from troth.declaration import Policy

# Signals -----------------------------------------------------------------------------------------


def test_signals_are_recorded_audited_and_folded(
    sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    with sessions.begin() as session:
        record_signal(
            session, kestrel_policy, subject, SignalKind.restriction, actor=STAFF, now=NOW
        )
        record_signal(
            session, kestrel_policy, subject, "objection", purpose="research", actor=STAFF, now=NOW
        )
        record_signal(session, kestrel_policy, subject, "child", actor=STAFF, now=NOW)
    with sessions.begin() as session:
        record_signal(
            session,
            kestrel_policy,
            subject,
            "restriction",
            active=False,
            actor=STAFF,
            now=NOW + DAY,
        )
    with sessions() as session:
        state = load_state(session, subject, NOW + DAY)
        assert (state.restricted, state.child) == (False, True)
        assert state.objections == frozenset({"research"})
        assert load_state(session, subject, NOW).restricted
        assert [(e.action, e.details) for e in audit_events(session) if e.subject_id == subject][
            1:
        ] == [
            ("subject.restriction_raised", {"purpose": None, "method": "api"}),
            ("subject.objection_raised", {"purpose": "research", "method": "api"}),
            ("subject.child_raised", {"purpose": None, "method": "api"}),
            ("subject.restriction_lifted", {"purpose": None, "method": "api"}),
        ]


@pytest.mark.parametrize(
    ("kind", "purpose", "field"),
    [
        ("suspicion", None, "kind"),
        ("objection", "telemarketing", "purpose"),
        ("restriction", "newsletter", "purpose"),
    ],
)
def test_bad_signals_are_refused(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    subject: str,
    kestrel_policy: Policy,
    kind: str,
    purpose: str | None,
    field: str,
) -> None:
    before = counts(ledger_engine)
    with sessions() as session, pytest.raises(ConsentInputError) as caught:
        record_signal(session, kestrel_policy, subject, kind, purpose=purpose, actor=STAFF, now=NOW)
    assert caught.value.field == field
    assert counts(ledger_engine) == before
