"""Data kept as agreed per client, under a moved clock on SQLite and PostgreSQL: items collected
for a client wait for its contract to end; the client's event sets their deadlines; an agreed
period replaces the rule's; the sweep deletes at that deadline, and a client legal hold
suspends it (P17, P20)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from vault_support import CONTACT_FORM, submit

from troth.declaration import Policy
from troth.declaration.durations import Duration
from troth.retention import HoldInputError, LegalHold, lift_hold, place_hold, sweep_vault
from troth.subjects import Keyring
from troth.vault import (
    ClientEvent,
    CollectionRefused,
    EventRefused,
    OverrideRefused,
    UnknownOverride,
    VaultItem,
    clear_override,
    list_overrides,
    record_client_event,
    record_subject_event,
    set_override,
)

DAY = timedelta(days=1)
APP_USER = [
    {"category": "user.name", "value": "Anil Deshmukh"},
    {"category": "user.contact.email", "value": "anil.d@example.in"},
]
ACME = "acme_logistics"
OTHER = "sahyadri_robotics"
ENDED = NOW + 200 * DAY


def app_user(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    n: int,
    *,
    client: str | None = ACME,
    now: datetime = NOW,
) -> str:
    """End user ``n`` of an application Kestrel runs for ``client``; their subject id."""
    result = submit(
        session,
        policy,
        keyring,
        APP_USER,
        identity=("email", f"user{n}@example.in"),
        source="client_apps",
        purpose="operate_client_apps",
        collection_point="acme tracking app sign-up",
        now=now,
        client=client,
    )
    return result.subject_id


def deadlines(
    sessions: sessionmaker[Session], client: str | None = ACME
) -> set[tuple[str, datetime | None, str | None]]:
    with sessions() as session:
        rows = session.execute(
            select(VaultItem.retention_rule, VaultItem.retain_until, VaultItem.waiting_for).where(
                VaultItem.client == client if client is not None else VaultItem.client.is_(None)
            )
        )
        return {tuple(row) for row in rows}  # type: ignore[misc]


def count_items(sessions: sessionmaker[Session], client: str) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(VaultItem).where(VaultItem.client == client)
        return session.scalar(query) or 0


def contract_ended(
    sessions: sessionmaker[Session], policy: Policy, client: str = ACME, at: datetime = ENDED
) -> int:
    with sessions.begin() as session:
        recorded = record_client_event(
            session,
            policy,
            client=client,
            event="contract_ended",
            occurred_at=at,
            now=at + DAY,
            actor=STAFF,
        )
    return recorded.items_updated


def agree(sessions: sessionmaker[Session], policy: Policy, period: str, client: str = ACME) -> int:
    with sessions.begin() as session:
        changed = set_override(
            session,
            policy,
            client=client,
            rule="client_app_data",
            period=period,
            now=NOW + DAY,
            actor=STAFF,
        )
    return changed.items_updated


def test_items_collected_for_a_client_wait_for_its_contract_to_end(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        result = submit(
            session,
            kestrel_policy,
            keyring,
            APP_USER,
            source="client_apps",
            purpose="operate_client_apps",
            client=ACME,
        )
    assert {(f.retention_rule, f.retain_until, f.waiting_for) for f in result.stored} == {
        ("client_app_data", None, "contract_ended")
    }
    assert deadlines(sessions) == {("client_app_data", None, "contract_ended")}
    with sessions() as session:
        (collected,) = audit_events(session, "vault.collected")
    assert collected.details["client"] == ACME


def test_the_clients_event_sets_the_deadlines_of_its_items_only(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        for n in range(3):
            app_user(session, kestrel_policy, keyring, n)
        app_user(session, kestrel_policy, keyring, 10, client=OTHER)
    assert contract_ended(sessions, kestrel_policy) == 3 * len(APP_USER)
    assert deadlines(sessions) == {("client_app_data", ENDED + 30 * DAY, None)}
    assert deadlines(sessions, OTHER) == {("client_app_data", None, "contract_ended")}
    with sessions() as session:
        (event,) = audit_events(session, "vault.client_event_recorded")
        assert event.subject_id is None
        assert event.details == {
            "client": ACME,
            "event": "contract_ended",
            "items_updated": 3 * len(APP_USER),
        }
        stored = session.scalars(select(ClientEvent)).one()
        assert (stored.client, stored.event, stored.occurred_at) == (ACME, "contract_ended", ENDED)
        assert_audit_chain_clean(session, [v["value"] for v in APP_USER])
    # Recorded again, later: the latest occurrence counts.
    assert contract_ended(sessions, kestrel_policy, at=ENDED + 10 * DAY) == 3 * len(APP_USER)
    assert deadlines(sessions) == {("client_app_data", ENDED + 40 * DAY, None)}


def test_a_subjects_own_event_does_not_end_the_clients_contract(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject = app_user(session, kestrel_policy, keyring, 1)
        unowned = app_user(session, kestrel_policy, keyring, 2, client=None)
    with sessions.begin() as session:
        for who in (subject, unowned):
            record_subject_event(
                session,
                kestrel_policy,
                subject_id=who,
                event="contract_ended",
                occurred_at=ENDED,
                now=ENDED,
                actor=STAFF,
            )
    # The client's item runs on the client's clock; an item with no client on its subject's.
    assert deadlines(sessions) == {("client_app_data", None, "contract_ended")}
    assert deadlines(sessions, None) == {("client_app_data", ENDED + 30 * DAY, None)}


def test_an_agreed_period_replaces_the_rules_and_changing_it_recomputes(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        app_user(session, kestrel_policy, keyring, 1)
        app_user(session, kestrel_policy, keyring, 2, client=OTHER)
    # Agreed before the contract ends: the items keep waiting.
    assert agree(sessions, kestrel_policy, "P90D") == 0
    assert deadlines(sessions) == {("client_app_data", None, "contract_ended")}
    assert contract_ended(sessions, kestrel_policy) == len(APP_USER)
    assert deadlines(sessions) == {("client_app_data", ENDED + 90 * DAY, None)}
    assert contract_ended(sessions, kestrel_policy, OTHER) == len(APP_USER)
    assert deadlines(sessions, OTHER) == {("client_app_data", ENDED + 30 * DAY, None)}
    # Changed afterwards: the client's deadlines move at once, the other client's do not.
    assert agree(sessions, kestrel_policy, "P1Y") == len(APP_USER)
    assert deadlines(sessions) == {("client_app_data", ENDED.replace(year=ENDED.year + 1), None)}
    assert deadlines(sessions, OTHER) == {("client_app_data", ENDED + 30 * DAY, None)}
    assert agree(sessions, kestrel_policy, "P12M") == 0  # the same deadline
    with sessions() as session:
        [row] = list_overrides(session)
        assert (row.client, row.rule, row.period) == (ACME, "client_app_data", "P12M")
        sets = audit_events(session, "retention.client_override_set")
        assert [e.details for e in sets][-1] == {
            "client": ACME,
            "rule": "client_app_data",
            "period": "P12M",
            "previous": "P1Y",
            "items_updated": 0,
        }
    with sessions.begin() as session:
        cleared = clear_override(
            session,
            kestrel_policy,
            client=ACME,
            rule="client_app_data",
            now=NOW + 2 * DAY,
            actor=STAFF,
        )
    assert (cleared.period, cleared.previous, cleared.items_updated) == (
        None,
        Duration(months=12),
        len(APP_USER),
    )
    assert deadlines(sessions) == {("client_app_data", ENDED + 30 * DAY, None)}
    with sessions() as session:
        assert list_overrides(session) == []
        (event,) = audit_events(session, "retention.client_override_cleared")
        assert event.details["items_updated"] == len(APP_USER)


def test_items_collected_after_the_agreement_get_the_agreed_deadline(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    agree(sessions, kestrel_policy, "P7D")
    contract_ended(sessions, kestrel_policy)
    with sessions.begin() as session:
        app_user(session, kestrel_policy, keyring, 1, now=ENDED + 2 * DAY)
    assert deadlines(sessions) == {("client_app_data", ENDED + 7 * DAY, None)}


def test_the_sweep_deletes_at_the_agreed_deadline_unless_a_client_hold_keeps_it(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        for n in range(2):
            app_user(session, kestrel_policy, keyring, n)
        app_user(session, kestrel_policy, keyring, 10, client=OTHER)
    agree(sessions, kestrel_policy, "P90D")
    contract_ended(sessions, kestrel_policy)
    contract_ended(sessions, kestrel_policy, OTHER)
    due = ENDED + 90 * DAY
    # The other client's items go at the rule's own 30 days; Acme's wait for their 90.
    report = sweep_vault(sessions, kestrel_policy, due - DAY)
    assert report.counts == {"vault": {"client_app_data": {"delete": len(APP_USER)}}}
    assert count_items(sessions, OTHER) == 0
    assert count_items(sessions, ACME) == 2 * len(APP_USER)

    with sessions.begin() as session:
        hold_id = place_hold(
            session,
            kestrel_policy,
            scope="client",
            target=ACME,
            reason="Arbitration 2027/03 with Acme Logistics",
            placed_by="A. Kulkarni, legal",
            now=due - DAY,
            actor=STAFF,
        ).id
    held = sweep_vault(sessions, kestrel_policy, due)
    assert held.total() == 0
    assert held.held == {"vault": {"client_app_data": 2 * len(APP_USER)}}
    assert count_items(sessions, ACME) == 2 * len(APP_USER)

    with sessions.begin() as session:
        lift_hold(session, hold_id, lifted_by="A. Kulkarni, legal", now=due + DAY, actor=STAFF)
    released = sweep_vault(sessions, kestrel_policy, due + DAY)
    assert released.counts == {"vault": {"client_app_data": {"delete": 2 * len(APP_USER)}}}
    assert count_items(sessions, ACME) == 0


def test_a_client_is_refused_where_no_rule_keeps_data_per_client(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session, pytest.raises(CollectionRefused) as refused:
        submit(session, kestrel_policy, keyring, CONTACT_FORM, client=ACME)
    [(field, message)] = refused.value.fields
    assert field == "client" and "per_client_override" in message
    for bad in ("Acme Logistics", "acme-logistics", "", "a" * 201):
        with sessions.begin() as session, pytest.raises(CollectionRefused) as refused:
            app_user(session, kestrel_policy, keyring, 1, client=bad)
        assert [f for f, _ in refused.value.fields] == ["client"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(VaultItem)) == 0


@pytest.mark.parametrize(
    "bad", ["Acme_Logistics", "acme-logistics", "9acme", "acme..logistics", "a" * 201]
)
def test_a_key_collect_refuses_is_refused_by_a_client_hold_too(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring, bad: str
) -> None:
    with sessions.begin() as session, pytest.raises(CollectionRefused) as refused:
        app_user(session, kestrel_policy, keyring, 1, client=bad)
    [(field, collect_message)] = refused.value.fields
    assert field == "client"
    with sessions.begin() as session, pytest.raises(HoldInputError) as held:
        place_hold(
            session,
            kestrel_policy,
            scope="client",
            target=bad,
            reason="Arbitration 2027/03",
            placed_by="legal",
            now=NOW,
            actor=STAFF,
        )
    assert held.value.field == "client"
    assert held.value.message == collect_message
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(LegalHold)) == 0
        assert session.scalar(select(func.count()).select_from(VaultItem)) == 0


@pytest.mark.parametrize(
    ("client", "rule", "period", "field"),
    [
        ("Acme", "client_app_data", "P90D", "client"),
        (ACME, "inquiries", "P90D", "rule"),
        (ACME, "no_such_rule", "P90D", "rule"),
        (ACME, "client_app_data", "90 days", "period"),
        (ACME, "client_app_data", "P0D", "period"),
        (ACME, "client_app_data", "P9000Y", "period"),
        (ACME, "client_app_data", "P99999999999999D", "period"),
        (ACME, "client_app_data", "P1000000Y1000000M1000000W1000000DT1000000H", "period"),
    ],
)
def test_an_override_is_refused_by_field(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    client: str,
    rule: str,
    period: str,
    field: str,
) -> None:
    with sessions.begin() as session, pytest.raises(OverrideRefused) as refused:
        set_override(
            session, kestrel_policy, client=client, rule=rule, period=period, now=NOW, actor=STAFF
        )
    assert refused.value.field == field
    if field == "rule":
        assert "client_app_data" in refused.value.message  # names the rules that do allow it
    with sessions() as session:
        assert list_overrides(session) == []


def test_clearing_an_override_that_is_not_there_is_an_error(
    sessions: sessionmaker[Session], kestrel_policy: Policy
) -> None:
    with sessions.begin() as session, pytest.raises(UnknownOverride, match="troth clients"):
        clear_override(
            session, kestrel_policy, client=ACME, rule="client_app_data", now=NOW, actor=STAFF
        )


def test_client_events_are_refused_by_field(
    sessions: sessionmaker[Session], kestrel_policy: Policy
) -> None:
    cases = [
        ({"client": "Acme!", "event": "contract_ended"}, "client"),
        ({"client": ACME, "event": "graduated"}, "event"),
        ({"client": ACME, "event": "collected"}, "event"),
        ({"client": ACME, "event": "contract_ended", "occurred_at": NOW + DAY}, "occurred_at"),
    ]
    for given, field in cases:
        with sessions.begin() as session, pytest.raises(EventRefused) as refused:
            record_client_event(
                session,
                kestrel_policy,
                client=given["client"],  # type: ignore[arg-type]
                event=given["event"],  # type: ignore[arg-type]
                occurred_at=given.get("occurred_at"),  # type: ignore[arg-type]
                now=NOW,
                actor=STAFF,
            )
        assert refused.value.field == field
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ClientEvent)) == 0
