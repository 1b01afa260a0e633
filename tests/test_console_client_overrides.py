"""The periods agreed with clients on the console's retention page, under a moved clock: every
reader of the page sees them; privacy officers and admins set and clear them with forms carrying
the session's CSRF token, the client's deadlines computed again each time and each change
audited by the staff id; bad input is named beside its field, and nothing changes (P17)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from apikey_support import MovingClock
from consent_support import STAFF, audit_events
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from staff_support import STARTED, Console, Member, console, csrf_of, make_member
from vault_support import submit

from troth.declaration import Policy
from troth.staff import Role
from troth.store import make_sessionmaker
from troth.subjects import Keyring
from troth.vault import ClientOverride, VaultItem, list_overrides, record_client_event

DAY = timedelta(days=1)
ACME, OTHER = "acme_logistics", "sahyadri_robotics"
RULE = "client_app_data"  # P30D after the client's contract ends; per_client_override: true
ENDED = STARTED - 10 * DAY
APP_USER = [
    {"category": "user.name", "value": "Anil Deshmukh"},
    {"category": "user.contact.email", "value": "anil.d@example.in"},
]
PERSONAL = ("Anil Deshmukh", "anil.d@example.in", "user1@example.in", "user2@example.in")
SET = "/console/retention/overrides"
CLEAR = f"/console/retention/overrides/{ACME}/{RULE}/clear"


@pytest.fixture
def desk(kestrel_policy: Policy, sqlite_url: str, keyring: Keyring) -> Iterator[Console]:
    with console(kestrel_policy, sqlite_url, keyring, MovingClock(STARTED)) as c:
        yield c


@pytest.fixture
def db(desk: Console) -> sessionmaker[Session]:
    return make_sessionmaker(desk.engine)


@pytest.fixture
def ended(db: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring) -> None:
    """An end user of an app Kestrel runs for each of two clients; both contracts ended ten
    days before the console's clock, so the items are due 30 days after that."""
    with db.begin() as session:
        for n, client in ((1, ACME), (2, OTHER)):
            submit(
                session,
                kestrel_policy,
                keyring,
                APP_USER,
                identity=("email", f"user{n}@example.in"),
                source="client_apps",
                purpose="operate_client_apps",
                collection_point="tracking app sign-up",
                now=ENDED - 100 * DAY,
                client=client,
            )
            record_client_event(
                session,
                kestrel_policy,
                client=client,
                event="contract_ended",
                occurred_at=ENDED,
                now=ENDED,
                actor=STAFF,
            )


def signed_in(desk: Console, keyring: Keyring, role: Role) -> Member:
    member = make_member(desk.engine, keyring, f"{role.value}@example.org", role, now=desk.clock())
    assert desk.sign_in(member).headers["location"] == "/console"
    return member


def text_of(page: Response) -> str:
    return " ".join(page.text.split())


def deadlines(db: sessionmaker[Session], client: str) -> set[tuple[Any, ...]]:
    with db() as session:
        rows = session.execute(
            select(VaultItem.retention_rule, VaultItem.retain_until, VaultItem.waiting_for).where(
                VaultItem.client == client
            )
        )
        return {tuple(row) for row in rows}


def agreed(db: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with db() as session:
        return [(o.client, o.rule, o.period) for o in list_overrides(session)]


def override_row(text: str, client: str) -> list[str]:
    found = re.search(rf'<th scope="row"><code>{re.escape(client)}</code></th>(.*?)</tr>', text)
    assert found, f"no agreed period listed for {client}"
    cells = re.findall(r"<td>(.*?)</td>", found.group(1))
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def test_an_officer_sets_changes_and_clears_an_agreed_period_with_the_forms(
    desk: Console, keyring: Keyring, db: sessionmaker[Session], ended: None
) -> None:
    member = signed_in(desk, keyring, Role.privacy_officer)
    page = desk.client.get("/console/retention")
    text = text_of(page)
    assert "No period is agreed with any client" in text
    assert f'<option value="{RULE}">' in text and 'action="/console/retention/overrides"' in text
    csrf = csrf_of(page)
    form = {"client": ACME, "rule": RULE, "period": "P90D"}
    # Without the session's token nothing is set.
    refused = desk.client.post(SET, data=form | {"csrf": "wrong"})
    assert refused.status_code == 403 and "Form refused" in refused.text
    assert agreed(db) == []

    done = desk.client.post(SET, data=form | {"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/console/retention?done=agreed&items=2"
    assert agreed(db) == [(ACME, RULE, "P90D")]
    assert deadlines(db, ACME) == {(RULE, ENDED + 90 * DAY, None)}
    assert deadlines(db, OTHER) == {(RULE, ENDED + 30 * DAY, None)}  # not this client's
    text = text_of(desk.client.get(done.headers["location"]))
    assert "Agreed period set" in text and "2 items got a new deadline." in text
    assert override_row(text, ACME)[:4] == [RULE, "P90D", "2026-11-26 09:00", "3.0"]
    assert f'action="{CLEAR}"' in text

    # Set again for the same client and rule: changed, and the deadlines move again.
    desk.clock.advance(60)
    changed = desk.client.post(
        SET, data=form | {"period": " P1Y ", "csrf": csrf}, follow_redirects=False
    )
    assert changed.headers["location"] == "/console/retention?done=agreed&items=2"
    assert agreed(db) == [(ACME, RULE, "P1Y")]
    assert deadlines(db, ACME) == {(RULE, ENDED.replace(year=ENDED.year + 1), None)}

    assert desk.client.post(CLEAR, data={"csrf": "wrong"}).status_code == 403
    assert agreed(db) == [(ACME, RULE, "P1Y")]
    cleared = desk.client.post(CLEAR, data={"csrf": csrf}, follow_redirects=False)
    assert cleared.status_code == 303
    assert cleared.headers["location"] == "/console/retention?done=cleared&items=2"
    assert agreed(db) == []
    assert deadlines(db, ACME) == {(RULE, ENDED + 30 * DAY, None)}
    text = text_of(desk.client.get(cleared.headers["location"]))
    assert "Agreed period cleared" in text and "No period is agreed with any client" in text
    # Twice is a 404: there is nothing to clear.
    again = desk.client.post(CLEAR, data={"csrf": csrf})
    assert again.status_code == 404 and "No period is agreed with that client" in again.text

    with db() as session:
        events = [
            (e.action, e.actor_kind, e.actor_id, e.subject_id, e.details)
            for e in audit_events(session)
            if e.action.startswith("retention.client_override")
        ]
    assert events == [
        (
            "retention.client_override_set",
            "staff",
            member.id,
            None,
            {"client": ACME, "rule": RULE, "period": "P90D", "previous": None, "items_updated": 2},
        ),
        (
            "retention.client_override_set",
            "staff",
            member.id,
            None,
            {"client": ACME, "rule": RULE, "period": "P1Y", "previous": "P90D", "items_updated": 2},
        ),
        (
            "retention.client_override_cleared",
            "staff",
            member.id,
            None,
            {"client": ACME, "rule": RULE, "period": "P1Y", "items_updated": 2},
        ),
    ]
    for value in PERSONAL:
        assert value not in str(events)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"client": "Acme-Logistics"}, "client", "'client': is not a client key"),
        ({"client": ""}, "client", "'client': is not a client key"),
        ({"rule": "inquiries"}, "rule", "'rule': does not allow a per-client period"),
        ({"rule": "no_such_rule"}, "rule", "'rule': is not a retention rule"),
        ({"period": "90 days"}, "period", "'period': '90 days' is not an ISO-8601 duration"),
        ({"period": "P0D"}, "period", "'period': is zero"),
        ({"period": "P9000Y"}, "period", "'period': is too long"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    desk: Console,
    keyring: Keyring,
    db: sessionmaker[Session],
    ended: None,
    change: dict[str, str],
    field: str,
    words: str,
) -> None:
    signed_in(desk, keyring, Role.admin)
    csrf = csrf_of(desk.client.get("/console/retention"))
    form = {"client": ACME, "rule": RULE, "period": "P90D"}
    answer = desk.client.post(SET, data=form | change | {"csrf": csrf})
    assert answer.status_code == 400
    text = text_of(answer)
    assert "No agreed period was set" in text
    error = re.search(rf'<p class="error" id="oe-{field}">([^<]*)</p>', text)
    assert error and html.unescape(error.group(1)).startswith(words)
    assert re.search(rf'id="o-{field}"[^>]*aria-invalid="true"', text)
    # What was typed is kept in the form, to correct.
    if field == "client" and change["client"]:
        assert f'value="{change["client"]}"' in text
    if field == "period":
        assert f'value="{change["period"]}"' in text
    assert agreed(db) == []
    assert deadlines(db, ACME) == {(RULE, ENDED + 30 * DAY, None)}


def test_clearing_with_a_malformed_client_key_is_refused(
    desk: Console, keyring: Keyring, db: sessionmaker[Session]
) -> None:
    signed_in(desk, keyring, Role.privacy_officer)
    csrf = csrf_of(desk.client.get("/console/retention"))
    answer = desk.client.post(
        f"/console/retention/overrides/Acme!/{RULE}/clear", data={"csrf": csrf}
    )
    assert answer.status_code == 400 and "client: is not a client key" in text_of(answer)


@pytest.mark.parametrize("role", [Role.auditor, Role.agent])
def test_only_officers_and_admins_set_or_clear_agreed_periods(
    desk: Console, keyring: Keyring, db: sessionmaker[Session], ended: None, role: Role
) -> None:
    with db.begin() as session:
        session.add(
            ClientOverride(
                client=ACME, rule=RULE, period="P90D", set_at=STARTED, policy_version="3.0"
            )
        )
    signed_in(desk, keyring, role)
    csrf = csrf_of(desk.client.get("/console"))
    form = {"client": OTHER, "rule": RULE, "period": "P1Y", "csrf": csrf}
    for path, data in ((SET, form), (CLEAR, {"csrf": csrf})):
        answer = desk.client.post(path, data=data)
        assert answer.status_code == 403 and "Your role does not open this page" in answer.text
    assert agreed(db) == [(ACME, RULE, "P90D")]
    page = desk.client.get("/console/retention")
    if role is Role.agent:
        assert page.status_code == 403
        return
    # The auditor reads the agreed periods, without the forms.
    text = text_of(page)
    assert override_row(text, ACME)[:2] == [RULE, "P90D"]
    assert 'action="/console/retention/overrides' not in text


def test_a_period_the_declaration_no_longer_allows_is_shown_as_not_applied(
    desk: Console, keyring: Keyring, db: sessionmaker[Session]
) -> None:
    """As if agreed under an earlier declaration whose inquiries rule let clients override."""
    set_at = datetime(2026, 3, 1, 12, 0, tzinfo=STARTED.tzinfo)
    with db.begin() as session:
        session.add(
            ClientOverride(
                client=ACME, rule="inquiries", period="P2Y", set_at=set_at, policy_version="2.0"
            )
        )
    signed_in(desk, keyring, Role.admin)
    page = desk.client.get("/console/retention")
    text = text_of(page)
    row = override_row(text, ACME)
    assert row[0].startswith("inquiries (not applied")
    assert row[1:4] == ["P2Y", "2026-03-01 12:00", "2.0"]
    # It can still be cleared.
    cleared = desk.client.post(
        f"/console/retention/overrides/{ACME}/inquiries/clear",
        data={"csrf": csrf_of(page)},
        follow_redirects=False,
    )
    assert cleared.headers["location"] == "/console/retention?done=cleared&items=0"
    assert agreed(db) == []
