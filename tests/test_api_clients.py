"""POST /api/v1/collect with a client and POST /api/v1/events for a client, under a moved clock
on SQLite and PostgreSQL: the client's contract ending sets its items' deadlines; refusals are
422s naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consent_api_support import ON_EACH_DATABASE, ConsentApi, assert_invalid
from consent_support import STAFF
from sqlalchemy import select

from troth.vault import VaultItem, set_override

APP_USER = {
    "identity": {"kind": "email", "value": "anil.d@example.in"},
    "fields": [
        {"category": "user.name", "value": "Anil Deshmukh"},
        {"category": "user.contact.email", "value": "anil.d@example.in"},
    ],
    "source": "client_apps",
    "purpose": "operate_client_apps",
    "client": "acme_logistics",
}
CONTACT = {
    "identity": {"kind": "email", "value": "priya@example.in"},
    "fields": [{"category": "user.name", "value": "Priya"}],
    "source": "contact_form",
    "purpose": "answer_inquiries",
}
DAY = timedelta(days=1)


def deadlines(api: ConsentApi) -> set[tuple[Any, ...]]:
    with api.app.state.site.sessions() as session:
        rows = session.execute(
            select(VaultItem.client, VaultItem.retain_until, VaultItem.waiting_for)
        )
        return {tuple(row) for row in rows}


@ON_EACH_DATABASE
def test_a_clients_contract_ending_sets_the_deadlines_of_its_items(api: ConsentApi) -> None:
    response = api.post("/collect", "vault:write", APP_USER)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["client"] == "acme_logistics"
    assert {(s["retention_rule"], s["waiting_for"]) for s in answer["stored"]} == {
        ("client_app_data", "contract_ended")
    }
    site = api.app.state.site
    with site.sessions.begin() as session:
        set_override(
            session,
            site.policy,
            client="acme_logistics",
            rule="client_app_data",
            period="P90D",
            now=api.clock(),
            actor=STAFF,
        )
    api.clock.advance(100 * 86400)
    ended = api.clock().replace(microsecond=0) - DAY
    response = api.post(
        "/events",
        "vault:write",
        {"client": "acme_logistics", "event": "contract_ended", "occurred_at": ended.isoformat()},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "client": "acme_logistics",
        "event": "contract_ended",
        "occurred_at": ended.isoformat(),
        "items_updated": 2,
    }
    assert deadlines(api) == {("acme_logistics", ended + 90 * DAY, None)}
    last = api.audit()[-1]
    assert last["action"] == "vault.client_event_recorded"
    assert last["details"] == {
        "client": "acme_logistics",
        "event": "contract_ended",
        "items_updated": 2,
    }


def test_a_client_is_refused_naming_the_field(api: ConsentApi) -> None:
    api.key("vault:write")
    for body in (
        {**CONTACT, "client": "acme_logistics"},  # no rule keeps it per client
        {**APP_USER, "client": "Acme Logistics"},  # not a key
        {**APP_USER, "client": "a" * 201},
    ):
        with api.nothing_written():
            response = api.post("/collect", "vault:write", body)
        assert_invalid(response, "client")
    with api.nothing_written():
        response = api.post("/collect", "vault:write", {**CONTACT, "client": "acme_logistics"})
    assert "per_client_override" in response.text


def test_client_events_are_refused_by_field(api: ConsentApi) -> None:
    subject = api.post("/collect", "vault:write", APP_USER).json()["subject_id"]
    future = api.clock().replace(year=2100).isoformat()
    cases = [
        ({"client": "acme_logistics", "subject_id": subject, "event": "contract_ended"}, "client"),
        (
            {
                "client": "acme_logistics",
                "identity": {"kind": "email", "value": "anil.d@example.in"},
                "event": "contract_ended",
            },
            "client",
        ),
        ({"client": "Acme!", "event": "contract_ended"}, "client"),
        ({"client": "acme_logistics", "event": "graduated"}, "event"),
        (
            {"client": "acme_logistics", "event": "contract_ended", "occurred_at": future},
            "occurred_at",
        ),
        ({"event": "contract_ended"}, "body"),
    ]
    for body, field in cases:
        with api.nothing_written():
            response = api.post("/events", "vault:write", body)
        assert_invalid(response, field)
