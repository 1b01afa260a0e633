"""POST /api/v1/collect and POST /api/v1/events: answers, every refusal as a 422 naming the
field, and nothing written or echoed when a submission is refused."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from apikey_support import MovingClock
from consent_api_support import (
    ON_EACH_DATABASE,
    ConsentApi,
    assert_error,
    assert_invalid,
    serve,
)
from vault_support import (
    CARD,
    CARD_DASHED,
    CONTACT_FORM,
    EMAIL,
    NAME,
    PERSONAL,
    PHONE,
    without_rules,
)

from troth.subjects.registry import find_subject
from troth.vault import items_of

SECRETS = (*PERSONAL, CARD, CARD_DASHED, CARD.replace(" ", ""), CARD_DASHED.replace("-", ""))
FORM = {
    "identity": {"kind": "email", "value": EMAIL},
    "fields": CONTACT_FORM,
    "source": "contact_form",
    "purpose": "answer_inquiries",
    "collection_point": "https://kestrel.example/contact",
}


def submission(**changes: Any) -> dict[str, Any]:
    return {**FORM, **changes}


def refused(api: ConsentApi, body: dict[str, Any], *fields: str) -> dict[str, str]:
    api.key("vault:write")  # made before, so that its audit event is not counted
    with api.nothing_written():
        response = api.post("/collect", "vault:write", body)
    messages = assert_invalid(response, *fields)
    for secret in SECRETS:
        assert secret not in response.text and secret.lower() not in response.text.lower()
    return messages


@ON_EACH_DATABASE
def test_a_submission_is_stored_and_answered(api: ConsentApi) -> None:
    response = api.post("/collect", "vault:write", FORM)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["subject_created"] is True
    assert [s["field"] for s in answer["stored"]] == [f"fields[{i}]" for i in range(5)]
    assert {s["retention_rule"] for s in answer["stored"]} == {"inquiries"}
    assert {s["waiting_for"] for s in answer["stored"]} == {"last_activity"}
    assert answer["stripped"] == []
    for secret in SECRETS:
        assert secret not in response.text
    keyring = api.app.state.site.keyring
    with api.app.state.site.sessions() as session:
        values = [i.value for i in items_of(session, keyring, answer["subject_id"])]
    assert values == [f["value"] for f in CONTACT_FORM]
    assert [e["action"] for e in api.audit()][-2:] == ["subject.created", "vault.collected"]


def test_collecting_needs_the_vault_scope(api: ConsentApi) -> None:
    response = api.post("/collect", "consent:write", FORM)
    assert_error(response, 403, "vault:write")
    response = api.client.post("/api/v1/collect", json=FORM)
    assert_error(response, 401)


@ON_EACH_DATABASE
def test_undeclared_names_are_refused_by_field(api: ConsentApi) -> None:
    body = submission(
        source="carrier_pigeon",
        purpose="world_domination",
        fields=[*CONTACT_FORM[:1], {"category": "user.contact.fax", "value": "020 4000 1235"}],
    )
    messages = refused(api, body, "source", "purpose", "fields[1].category")
    assert messages["fields[1].category"] == "is not a category the declaration declares"


def test_a_category_the_source_does_not_collect_is_refused(api: ConsentApi) -> None:
    body = submission(fields=[*CONTACT_FORM, {"category": "user.job_title", "value": "CTO"}])
    messages = refused(api, body, "fields[5].category")
    assert "source contact_form" in messages["fields[5].category"]


def test_a_category_the_purpose_does_not_use_is_refused(api: ConsentApi) -> None:
    body = submission(purpose="billing", fields=CONTACT_FORM[:3])
    messages = refused(api, body, "fields[2].category")
    assert "purpose billing" in messages["fields[2].category"]


def test_a_purpose_on_consent_without_consent_is_refused(api: ConsentApi) -> None:
    body = submission(source="webinar_registration", purpose="newsletter", fields=CONTACT_FORM[:2])
    messages = refused(api, body, "purpose")
    assert "needs consent" in messages["purpose"]
    subject = api.subject("email", EMAIL)
    api.record(subject, "newsletter")
    response = api.post("/collect", "vault:write", body)
    assert response.status_code == 201, response.text
    assert response.json()["subject_id"] == subject


def test_a_withdrawn_consent_refuses_collection_again(api: ConsentApi) -> None:
    body = submission(source="webinar_registration", purpose="newsletter", fields=CONTACT_FORM[:1])
    subject = api.subject("email", EMAIL)
    api.record(subject, "newsletter")
    assert api.post("/collect", "vault:write", body).status_code == 201
    api.withdraw(subject, "newsletter")
    assert "withdrawn" in refused(api, body, "purpose")["purpose"]


@ON_EACH_DATABASE
def test_forbidden_data_is_refused_without_its_value(
    api: ConsentApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = submission(
        fields=[
            {"category": "user.name", "value": NAME},
            {"category": "user.content.private", "value": f"card {CARD}, cvv 123"},
            {"category": "user.financial.credit_card", "value": CARD_DASHED},
        ]
    )
    messages = refused(api, body, "fields[1].value", "fields[2].category")
    assert messages["fields[1].value"] == "holds a payment card number, which is never stored"
    assert messages["fields[2].category"] == "is declared forbidden: troth never stores it"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in SECRETS:
        assert secret not in logged


def test_an_item_no_retention_rule_covers_is_refused(database: str, clock: MovingClock) -> None:
    with serve(without_rules("inquiries", "closed_accounts"), database, clock) as api:
        messages = refused(api, submission(fields=CONTACT_FORM[:1]), "fields[0].category")
    assert "no retention rule covers it" in messages["fields[0].category"]


def test_malformed_submissions_are_refused_by_schema(api: ConsentApi) -> None:
    refused(api, submission(fields=[]), "fields")
    refused(
        api, submission(identity={"kind": "email", "value": "not an address"}), "identity.value"
    )
    refused(
        api,
        submission(fields=[{"category": "user.name", "value": NAME, "extra": 1}]),
        "fields[0].extra",
    )
    refused(
        api,
        submission(fields=[{"category": "user.name", "value": "x" * 10_001}]),
        "fields[0].value",
    )


@ON_EACH_DATABASE
def test_an_event_sets_the_waiting_deadlines(api: ConsentApi) -> None:
    subject = api.post("/collect", "vault:write", FORM).json()["subject_id"]
    occurred = api.clock().replace(microsecond=0)
    response = api.post(
        "/events",
        "vault:write",
        {
            "identity": {"kind": "email", "value": EMAIL},
            "event": "last_activity",
            "occurred_at": occurred.isoformat(),
        },
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "subject_id": subject,
        "event": "last_activity",
        "occurred_at": occurred.isoformat(),
        "items_updated": 5,
    }
    keyring = api.app.state.site.keyring
    with api.app.state.site.sessions() as session:
        deadlines = {i.retain_until for i in items_of(session, keyring, subject)}
    assert deadlines == {occurred.replace(year=occurred.year + 1)}
    assert api.audit()[-1]["action"] == "vault.event_recorded"
    by_id = api.post("/events", "vault:write", {"subject_id": subject, "event": "account_closed"})
    assert by_id.status_code == 201, by_id.text


def test_events_are_refused_by_field(api: ConsentApi) -> None:
    subject = api.post("/collect", "vault:write", FORM).json()["subject_id"]
    future = api.clock().replace(year=2100).isoformat()
    cases = [
        ({"subject_id": subject, "event": "graduated"}, "event"),
        ({"subject_id": subject, "event": "collected"}, "event"),
        ({"subject_id": subject, "event": "account_closed", "occurred_at": future}, "occurred_at"),
        (
            {
                "subject_id": subject,
                "event": "account_closed",
                "occurred_at": "2026-11-01T09:30:00",
            },
            "occurred_at",
        ),
        ({"event": "account_closed"}, "body"),
        (
            {
                "subject_id": subject,
                "identity": {"kind": "email", "value": EMAIL},
                "event": "account_closed",
            },
            "body",
        ),
    ]
    api.key("vault:write")
    for body, field in cases:
        with api.nothing_written():
            response = api.post("/events", "vault:write", body)
        assert_invalid(response, field)
    unknown = {
        "identity": {"kind": "email", "value": "nobody@example.org"},
        "event": "account_closed",
    }
    with api.nothing_written():
        assert_error(api.post("/events", "vault:write", unknown), 404, "no subject")
        missing = {"subject_id": "00000000-0000-4000-8000-000000000000", "event": "account_closed"}
        assert_error(api.post("/events", "vault:write", missing), 404, "no such subject")


def test_the_phone_identity_is_found_for_events(api: ConsentApi) -> None:
    body = submission(identity={"kind": "phone", "value": PHONE})
    subject = api.post("/collect", "vault:write", body).json()["subject_id"]
    with api.app.state.site.sessions() as session:
        found = find_subject(session, api.app.state.site.keyring, "phone", PHONE)
    assert found is not None and found.id == subject
