"""Retention deadlines set at collection, the precedence between rules that cover one item,
and the events that start clocks waiting for them (P17)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events, counts
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from vault_support import CONTACT_FORM, NAME, PERSONAL, submit

from troth.declaration import Policy
from troth.declaration.durations import Duration
from troth.declaration.model import RetentionRule, RetentionScope
from troth.subjects import Keyring
from troth.subjects.registry import UnknownSubject
from troth.vault import (
    EventRecorded,
    EventRefused,
    SubjectEvent,
    VaultItem,
    deadline,
    items_of,
    record_subject_event,
)

DAY = timedelta(days=1)


def record(
    session: Session,
    policy: Policy,
    subject_id: str,
    event: str,
    *,
    occurred_at: datetime | None = None,
    now: datetime = NOW + 10 * DAY,
) -> EventRecorded:
    return record_subject_event(
        session,
        policy,
        subject_id=subject_id,
        event=event,
        occurred_at=occurred_at,
        now=now,
        actor=STAFF,
    )


Row = tuple[str, str, datetime | None, str | None]


def governing(sessions: sessionmaker[Session], keyring: Keyring, subject_id: str) -> set[Row]:
    """Each item's category, governing rule, deadline and the event it waits for."""
    with sessions() as session:
        return {
            (i.category, i.retention_rule, i.retain_until, i.waiting_for)
            for i in items_of(session, keyring, subject_id)
        }


def test_an_item_waits_for_its_event_and_gets_its_deadline_when_it_is_recorded(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        result = submit(session, kestrel_policy, keyring)
    assert {(f.retention_rule, f.retain_until, f.waiting_for) for f in result.stored} == {
        ("inquiries", None, "last_activity")
    }
    active = NOW + 5 * DAY
    with sessions.begin() as session:
        recorded = record(
            session, kestrel_policy, result.subject_id, "last_activity", occurred_at=active
        )
    assert recorded.items_updated == len(CONTACT_FORM)
    assert {i[1:] for i in governing(sessions, keyring, result.subject_id)} == {
        ("inquiries", active.replace(year=active.year + 1), None)
    }
    # Activity again later: the latest occurrence counts.
    later = NOW + 40 * DAY
    with sessions.begin() as session:
        record(
            session,
            kestrel_policy,
            result.subject_id,
            "last_activity",
            occurred_at=later,
            now=later,
        )
    assert {i[2] for i in governing(sessions, keyring, result.subject_id)} == {
        later.replace(year=later.year + 1)
    }
    with sessions() as session:
        events = audit_events(session, "vault.event_recorded")
        assert [e.details for e in events] == [
            {"event": "last_activity", "items_updated": 5},
            {"event": "last_activity", "items_updated": 5},
        ]
        assert len(session.scalars(select(SubjectEvent)).all()) == 2
        assert_audit_chain_clean(session, PERSONAL)


def test_a_rule_with_a_legal_basis_holds_the_item_past_a_shorter_rule(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    # financial_records: 7 years from collection, legal obligation; closed_accounts: 30 days
    # after account_closed for every customer. The legal hold wins, before and after closing.
    fields = [
        {"category": "user.name", "value": NAME},
        {"category": "user.financial", "value": "GSTIN 27AAACK1234A1Z5"},
    ]
    with sessions.begin() as session:
        result = submit(
            session, kestrel_policy, keyring, fields, source="client_signup", purpose="billing"
        )
    seven_years = NOW.replace(year=NOW.year + 7)
    expected = {
        ("user.name", "financial_records", seven_years, None),
        ("user.financial", "financial_records", seven_years, None),
    }
    assert governing(sessions, keyring, result.subject_id) == expected
    with sessions.begin() as session:
        updated = record(session, kestrel_policy, result.subject_id, "account_closed")
    assert updated.items_updated == 0
    assert governing(sessions, keyring, result.subject_id) == expected


def test_a_holding_rule_that_waits_makes_the_item_wait(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    # project_data holds project data (contract) for 5 years after project_completed; the
    # account closing first does not start a shorter clock.
    with sessions.begin() as session:
        result = submit(
            session,
            kestrel_policy,
            keyring,
            CONTACT_FORM[:2],
            source="client_signup",
            purpose="deliver_projects",
        )
    assert {i[1:] for i in governing(sessions, keyring, result.subject_id)} == {
        ("project_data", None, "project_completed")
    }
    with sessions.begin() as session:
        record(session, kestrel_policy, result.subject_id, "account_closed")
    assert {i[3] for i in governing(sessions, keyring, result.subject_id)} == {"project_completed"}
    done = NOW + 20 * DAY
    with sessions.begin() as session:
        record(
            session,
            kestrel_policy,
            result.subject_id,
            "project_completed",
            occurred_at=done,
            now=done,
        )
    assert {i[1:] for i in governing(sessions, keyring, result.subject_id)} == {
        ("project_data", done.replace(year=done.year + 5), None)
    }


def test_without_a_legal_basis_the_earliest_deadline_wins(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    # A customer's technical data: visitor_logs keeps it 90 days from collection,
    # closed_accounts 30 days after the account closes, whichever comes first.
    fields = [{"category": "user.device.ip_address", "value": "198.51.100.7"}]
    with sessions.begin() as session:
        result = submit(
            session, kestrel_policy, keyring, fields, source="server_logs", purpose="security"
        )
    assert governing(sessions, keyring, result.subject_id) == {
        ("user.device.ip_address", "visitor_logs", NOW + 90 * DAY, None)
    }
    closed = NOW + DAY
    with sessions.begin() as session:
        recorded = record(
            session, kestrel_policy, result.subject_id, "account_closed", occurred_at=closed
        )
    assert recorded.items_updated == 1
    assert governing(sessions, keyring, result.subject_id) == {
        ("user.device.ip_address", "closed_accounts", closed + 30 * DAY, None)
    }


def test_an_item_waiting_only_on_limits_takes_the_first_event_that_comes(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    # A webinar registration answered as an enquiry: inquiries (1 year after last activity)
    # and closed_accounts (30 days after closing) both wait; the first declared is shown.
    fields = [{"category": "user.contact.organization", "value": "Sahyadri Robotics"}]
    with sessions.begin() as session:
        result = submit(
            session,
            kestrel_policy,
            keyring,
            fields,
            source="webinar_registration",
            purpose="answer_inquiries",
        )
    assert {i[1:] for i in governing(sessions, keyring, result.subject_id)} == {
        ("inquiries", None, "last_activity")
    }
    with sessions.begin() as session:
        record(session, kestrel_policy, result.subject_id, "account_closed", occurred_at=NOW)
    assert {i[1:] for i in governing(sessions, keyring, result.subject_id)} == {
        ("closed_accounts", NOW + 30 * DAY, None)
    }
    with sessions.begin() as session:
        record(session, kestrel_policy, result.subject_id, "last_activity", occurred_at=NOW)
    assert {i[1] for i in governing(sessions, keyring, result.subject_id)} == {"closed_accounts"}


def test_a_deadline_set_at_collection_uses_events_already_recorded(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = submit(session, kestrel_policy, keyring, CONTACT_FORM[:1]).subject_id
        record(session, kestrel_policy, subject_id, "last_activity", occurred_at=NOW)
    with sessions.begin() as session:
        later = submit(session, kestrel_policy, keyring, CONTACT_FORM[1:2], now=NOW + DAY)
    assert [(f.retain_until, f.waiting_for) for f in later.stored] == [
        (NOW.replace(year=NOW.year + 1), None)
    ]


def test_events_are_refused_by_field(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = submit(session, kestrel_policy, keyring).subject_id
    engine = sessions.kw["bind"]
    before = counts(engine)
    cases = [
        ("graduated", None, "event"),
        ("collected", None, "event"),
        ("account_closed", NOW + 11 * DAY, "occurred_at"),
        ("account_closed", NOW.replace(tzinfo=None), "occurred_at"),
    ]
    for event, occurred_at, field in cases:
        with pytest.raises(EventRefused) as caught, sessions.begin() as session:
            record(session, kestrel_policy, subject_id, event, occurred_at=occurred_at)
        assert caught.value.field == field
    with pytest.raises(UnknownSubject), sessions.begin() as session:
        record(session, kestrel_policy, "00000000-0000-4000-8000-000000000000", "account_closed")
    assert counts(engine) == before


def test_a_declared_custom_event_starts_its_clock(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    from consent_support import give

    with sessions.begin() as session:
        subject_id = submit(session, kestrel_policy, keyring).subject_id
        give(session, kestrel_policy, subject_id, "recruitment")
        submit(
            session,
            kestrel_policy,
            keyring,
            [{"category": "user.workplace", "value": "CV"}],
            source="careers_form",
            purpose="recruitment",
        )
        record(session, kestrel_policy, subject_id, "application_closed", occurred_at=NOW)
    rows = {i[0]: i[1:] for i in governing(sessions, keyring, subject_id)}
    assert rows["user.workplace"] == ("applications", NOW.replace(year=NOW.year + 1), None)


def test_the_deadline_index_exists(ledger_engine: Engine) -> None:
    from sqlalchemy import inspect

    indexes = {
        i["name"]: i["column_names"] for i in inspect(ledger_engine).get_indexes("vault_items")
    }
    assert indexes["ix_vault_items_retain_until"] == ["retain_until"]
    assert VaultItem.__table__.c.retain_until.nullable


def rule(
    key: str, period: str, starts_at: str = "collected", basis: str | None = None
) -> RetentionRule:
    return RetentionRule(
        key=key,
        name=key,
        applies_to=RetentionScope(categories=("user.name",)),
        period=Duration.parse(period),
        starts_at=starts_at,
        legal_basis=basis,  # type: ignore[arg-type]
    )


def test_precedence_between_rules() -> None:
    short, long = rule("short", "P30D"), rule("long", "P1Y")
    tax, warranty = (
        rule("tax", "P7Y", basis="legal_obligation"),
        rule("warranty", "P2Y", basis="contract"),
    )
    waiting_hold = rule("hold", "P1Y", "contract_ended", basis="contract")
    waiting_limit = rule("closed", "P30D", "account_closed")
    assert deadline([long, short], NOW, {}).rule == "short"
    assert deadline([short, tax, long, warranty], NOW, {}).rule == "tax"
    assert deadline([waiting_hold, tax], NOW, {}).waiting_for == "contract_ended"
    ended = {"contract_ended": NOW.replace(year=NOW.year + 7)}
    assert deadline([waiting_hold, tax], NOW, ended).rule == "hold"
    assert deadline([waiting_limit, long], NOW, {}).rule == "long"
    assert deadline([waiting_limit], NOW, {}).waiting_for == "account_closed"
    same = rule("same", "P30D")
    assert deadline([short, same], NOW, {}).rule == "short"
    assert deadline([same, short], NOW, {}).rule == "same"
    with pytest.raises(ValueError):
        deadline([], NOW, {})


def test_an_unchanged_deadline_is_not_counted(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = submit(session, kestrel_policy, keyring).subject_id
        first = record(session, kestrel_policy, subject_id, "last_activity", occurred_at=NOW)
        again = record(session, kestrel_policy, subject_id, "last_activity", occurred_at=NOW)
        rows = session.scalars(select(VaultItem.retain_until)).all()
    assert (first.items_updated, again.items_updated) == (5, 0)
    assert set(rows) == {NOW.replace(year=NOW.year + 1)}
