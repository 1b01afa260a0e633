"""What the consent ledger keeps true whatever is written, on SQLite and PostgreSQL: each event and
its audit event in one transaction, rows never updated, and an audit chain that verifies and holds
no identity."""

from __future__ import annotations

from typing import Any

from consent_support import (
    DAY,
    EMAIL,
    NOW,
    STAFF,
    assert_audit_chain_clean,
    audit_events,
    choose,
    counts,
    give,
)
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from troth.consent import link_identity, record_cookie_choice, record_signal, withdraw
from troth.declaration import Policy
from troth.subjects import Keyring, new_browser_id


def test_an_event_and_its_audit_event_share_one_transaction(
    ledger_engine: Engine, sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    before = counts(ledger_engine)
    with sessions() as session:
        give(session, kestrel_policy, subject, "newsletter")
        session.rollback()
    assert counts(ledger_engine) == before
    with sessions.begin() as session:
        row = give(session, kestrel_policy, subject, "newsletter")
    after = counts(ledger_engine)
    assert after == {
        "events": before["events"] + 1,
        "changes": before["changes"] + 1,
        "audit": before["audit"] + 1,
    }
    with sessions() as session:
        (event,) = audit_events(session, "consent.recorded")
    assert event.subject_id == subject
    assert event.policy_version == "3.0"
    assert event.details == {
        "events": 1,
        "states": {"given": 1},
        "purposes": ["newsletter"],
        "subjects": [subject],
        "record_ids": [row["record_id"]],
    }


def test_rows_are_never_updated(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    subject: str,
    keyring: Keyring,
    kestrel_policy: Policy,
) -> None:
    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        with ledger_engine.connect() as connection:
            return {
                table: [
                    tuple(row)
                    for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
                ]
                for table in ("consent_events", "subject_signals", "consent_changes")
            }

    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
        give(session, kestrel_policy, subject, "site_analytics", "refused")
        record_signal(
            session, kestrel_policy, subject, "objection", purpose="research", actor=STAFF, now=NOW
        )
    earlier = snapshot()
    browser = new_browser_id()
    with sessions.begin() as session:
        withdraw(session, kestrel_policy, subject, [], method="api", actor=STAFF, now=NOW + DAY)
        give(session, kestrel_policy, subject, "site_analytics", now=NOW + DAY)
        record_signal(
            session,
            kestrel_policy,
            subject,
            "objection",
            purpose="research",
            active=False,
            actor=STAFF,
            now=NOW + DAY,
        )
        record_cookie_choice(
            session,
            policy=kestrel_policy,
            keyring=keyring,
            browser_id=browser,
            accepted=["marketing"],
            gpc=False,
            revision=0,
            now=NOW + DAY,
        )
        link_identity(
            session,
            keyring,
            kestrel_policy,
            subject,
            "browser_id",
            browser,
            actor=STAFF,
            now=NOW + DAY,
        )
    later = snapshot()
    for table, rows in earlier.items():
        assert later[table][: len(rows)] == rows, table
        assert len(later[table]) > len(rows), table


def test_the_audit_chain_verifies_and_holds_no_identity(
    sessions: sessionmaker[Session], subject: str, keyring: Keyring, kestrel_policy: Policy
) -> None:
    browser = new_browser_id()
    choose(sessions, kestrel_policy, keyring, browser, ["analytics", "marketing"], gpc=True)
    with sessions.begin() as session:
        give(
            session,
            kestrel_policy,
            subject,
            "newsletter",
            actor_ref="parent-ref-1",
            acted_by="parent",
        )
        record_signal(session, kestrel_policy, subject, "child", actor=STAFF, now=NOW)
        link_identity(
            session, keyring, kestrel_policy, subject, "browser_id", browser, actor=STAFF, now=NOW
        )
        withdraw(session, kestrel_policy, subject, [], method="api", actor=STAFF, now=NOW + DAY)
    with sessions() as session:
        events = assert_audit_chain_clean(session, [EMAIL, "meera.k", browser])
    assert [e.action for e in events] == [
        "subject.created",
        "subject.created",
        "consent.recorded",
        "subject.gpc_opt_out_raised",
        "consent.recorded",
        "subject.child_raised",
        "subject.merged",
        "consent.recorded",
    ]
