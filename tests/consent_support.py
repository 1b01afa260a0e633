"""Helpers for the subject and consent tests: subjects, choices, the audit trail, a clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor, AuditEvent, verify_chain
from troth.consent import ConsentEvent, ConsentInput, history, record_consents, record_cookie_choice
from troth.consent.models import ConsentChange
from troth.declaration import Policy
from troth.subjects import Keyring
from troth.subjects.registry import resolve_subject

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
STAFF = Actor.staff("staff-7")
DAY = timedelta(days=1)
EMAIL = "meera.k@example.in"  # the identity of the `subject` fixture (conftest.py)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def new_email() -> str:
    return f"Person.{uuid.uuid4().hex[:10]}@Example.com"


def new_subject(
    session: Session,
    keyring: Keyring,
    value: str | None = None,
    *,
    kind: str = "email",
    now: datetime = NOW,
) -> str:
    """The id of the subject with this identity, created if need be."""
    subject, _created = resolve_subject(
        session, keyring, kind, value or new_email(), now=now, actor=STAFF
    )
    return subject.id


def give(
    session: Session,
    policy: Policy,
    subject_id: str,
    purpose: str,
    state: str = "given",
    *,
    now: datetime = NOW,
    **fields: Any,
) -> dict[str, Any]:
    """Record one consent event; returns the row written."""
    rows = record_consents(
        session,
        policy,
        [(subject_id, ConsentInput(purpose, state, **fields))],
        actor=STAFF,
        now=now,
    )
    return rows[0]


def count(session: Session, table: Any) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def counts(engine: Engine) -> dict[str, int]:
    """How many rows the consent ledger, its change feed and the audit trail hold."""
    with Session(engine) as session:
        return {
            "events": count(session, ConsentEvent),
            "changes": count(session, ConsentChange),
            "audit": count(session, AuditEvent),
        }


def audit_events(session: Session, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def assert_audit_chain_clean(session: Session, secrets: Iterable[str]) -> list[AuditEvent]:
    """The audit chain verifies, and none of ``secrets`` appears anywhere in it."""
    result = verify_chain(session)
    assert result.ok, result.message
    events = audit_events(session)
    assert result.count == len(events) > 0
    text = json.dumps(
        [
            {
                "actor": event.actor_id,
                "action": event.action,
                "subject": event.subject_id,
                "details": event.details,
            }
            for event in events
        ]
    ).lower()
    for secret in secrets:
        assert secret.lower() not in text, f"the audit trail holds {secret!r}"
    return events


def events_of(sessions: sessionmaker[Session], subject_id: str) -> list[ConsentEvent]:
    with sessions() as session:
        return history(session, subject_id)


def choose(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    browser: str,
    accepted: list[str],
    *,
    gpc: bool = False,
    now: datetime = NOW,
) -> Any:
    with sessions.begin() as session:
        return record_cookie_choice(
            session,
            policy=policy,
            keyring=keyring,
            browser_id=browser,
            accepted=accepted,
            gpc=gpc,
            revision=0,
            language="fr",
            collection_point="cookie-banner/home",
            now=now,
        )
