"""The subject routes of /api/v1 over HTTP: POST /subjects finds or creates the subject of an
identity, POST /subjects/{subject_id}/identities links another and merges, and no identity is
ever stored or answered in plain text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from consent_api_support import (
    API,
    BROWSER_ID,
    EMAIL,
    EXTERNAL_ID,
    ON_EACH_DATABASE,
    PHONE,
    UUID4,
    ConsentApi,
    assert_invalid,
    assert_no_personal_data,
    at_once,
    audit_actions,
)

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


# -- POST /subjects ----------------------------------------------------------------------------


def test_post_subjects_creates_one_subject_per_identity(api: ConsentApi) -> None:
    body = {"identity": {"kind": "email", "value": EMAIL}}
    response = api.post("/subjects", "consent:write", body)
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"subject_id", "created"} and created["created"] is True
    assert UUID4.fullmatch(created["subject_id"])
    # The same address, spelled otherwise, finds the same subject.
    body = {"identity": {"kind": "email", "value": f"  {EMAIL.upper()} "}}
    found = api.post("/subjects", "consent:write", body).json()
    assert found == {"subject_id": created["subject_id"], "created": False}
    other = api.subject("phone", PHONE)
    assert other != created["subject_id"]
    key_id, _ = api.key("consent:write")
    created_events = [e for e in api.audit() if e["action"] == "subject.created"]
    assert [
        (e["subject_id"], e["actor_kind"], e["actor_id"], e["details"]) for e in created_events
    ] == [
        (created["subject_id"], "api_key", key_id, {"identity_kind": "email"}),
        (other, "api_key", key_id, {"identity_kind": "phone"}),
    ]


@pytest.mark.parametrize(
    ("body", "fields", "sent"),
    [
        (
            {"identity": {"kind": "email", "value": "ada.lovelace.example.com"}},
            ["identity.value"],
            "ada.lovelace.example.com",
        ),
        (
            {"identity": {"kind": "email", "value": "ada@lovelace@example.com"}},
            ["identity.value"],
            "ada@lovelace@example.com",
        ),
        (
            {"identity": {"kind": "phone", "value": "98765 43210"}},
            ["identity.value"],
            "98765 43210",
        ),
        ({"identity": {"kind": "phone", "value": "+91 12"}}, ["identity.value"], "+91 12"),
        ({"identity": {"kind": "browser_id", "value": "short-id"}}, ["identity.value"], "short-id"),
        ({"identity": {"kind": "external_id", "value": "   "}}, ["identity.value"], None),
        ({"identity": {"kind": "email", "value": "a" * 321}}, ["identity.value"], "a" * 321),
        ({"identity": {"kind": "email", "value": 12}}, ["identity.value"], None),
        ({"identity": {"kind": "fax", "value": EMAIL}}, ["identity.kind"], None),
        ({"identity": {"kind": "email"}}, ["identity.value"], None),
        ({"identity": EMAIL}, ["identity"], None),
        ({}, ["identity"], None),
        ({"identity": {"kind": "email", "value": EMAIL}, "name": "Ada"}, ["name"], "Ada"),
        (
            {"identity": {"kind": "email", "value": EMAIL, "verified": True}},
            ["identity.verified"],
            None,
        ),
    ],
)
def test_post_subjects_refuses_a_malformed_identity_without_echoing_it(
    api: ConsentApi, body: dict[str, Any], fields: list[str], sent: str | None
) -> None:
    headers = api.headers("consent:write")
    with api.nothing_written():
        response = api.client.post(f"{API}/subjects", json=body, headers=headers)
        assert_invalid(response, *fields)
        if sent is not None:
            assert sent not in response.text


# -- POST /subjects/{subject_id}/identities ----------------------------------------------------


@ON_EACH_DATABASE
def test_linking_a_browser_merges_its_consent_into_the_known_subject(api: ConsentApi) -> None:
    known = api.subject("email", EMAIL)
    browser = api.subject("browser_id", BROWSER_ID)
    assert known != browser
    [record] = api.record(
        browser, {"purpose": "site_analytics", "state": "given", "method": "cookie_banner"}
    )
    assert api.reason(known, "site_analytics") == "no_consent"  # cached before the link
    assert api.reason(browser, "site_analytics") == "consent"

    body = {"kind": "browser_id", "value": BROWSER_ID}
    response = api.post(f"/subjects/{known}/identities", "consent:write", body)
    assert response.status_code == 200, response.text
    assert response.json() == {"subject_id": known, "merged": [browser]}

    state = api.consents(known)
    assert state["subject_id"] == known
    assert state["consents"]["site_analytics"]["state"] == "given"
    assert state["consents"]["site_analytics"]["record_id"] == record
    assert [(e["record_id"], e["subject_id"]) for e in state["history"]] == [(record, browser)]
    # The choice made in the banner now counts for the known subject, at once.
    decision = api.decide(known, "site_analytics")
    assert (decision["allowed"], decision["reason"], decision["record_id"]) == (
        True,
        "consent",
        record,
    )
    # The browser's id leads to the known subject from now on.
    assert api.consents(browser)["subject_id"] == known
    assert api.subject("browser_id", BROWSER_ID) == known
    assert api.reason(browser, "site_analytics") == "consent"
    merge = [e for e in api.audit() if e["action"] == "subject.merged"]
    assert [(e["subject_id"], e["details"]) for e in merge] == [
        (known, {"merged_subject": browser, "identities_moved": 1})
    ]
    # Linking it again changes nothing.
    with api.nothing_written():
        again = api.post(f"/subjects/{known}/identities", "consent:write", body)
        assert again.json() == {"subject_id": known, "merged": []}


def test_linking_a_new_identity_merges_nothing(api: ConsentApi) -> None:
    subject = api.subject()
    body = {"kind": "phone", "value": PHONE}
    response = api.post(f"/subjects/{subject}/identities", "consent:write", body)
    assert response.status_code == 200, response.text
    assert response.json() == {"subject_id": subject, "merged": []}
    assert api.subject("phone", PHONE) == subject
    assert audit_actions(api)[-1] == "subject.identity_linked"
    assert api.audit()[-1]["details"] == {"identity_kind": "phone"}


@pytest.mark.parametrize(
    ("body", "fields", "sent"),
    [
        (
            {"kind": "email", "value": "ada.lovelace.example.com"},
            ["value"],
            "ada.lovelace.example.com",
        ),
        ({"kind": "browser_id", "value": "not a token!"}, ["value"], "not a token!"),
        ({"kind": "phone", "value": "0"}, ["value"], None),
        ({"kind": "email", "value": ["a", "b"]}, ["value"], None),
        ({"kind": "passport", "value": EMAIL}, ["kind"], None),
        ({"value": EMAIL}, ["kind"], None),
        ({"kind": "email", "value": EMAIL, "primary": True}, ["primary"], None),
    ],
)
def test_linking_refuses_a_malformed_identity_without_echoing_it(
    api: ConsentApi, body: dict[str, Any], fields: list[str], sent: str | None
) -> None:
    subject = api.subject("phone", PHONE)
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/identities", "consent:write", body)
        assert_invalid(response, *fields)
        if sent is not None:
            assert sent not in response.text


# -- at the same time --------------------------------------------------------------------------


@ON_EACH_DATABASE
def test_one_identity_sent_many_times_at_once_makes_one_subject(api: ConsentApi) -> None:
    calls = [("/subjects", {"identity": {"kind": "email", "value": EMAIL}})] * 8
    responses = at_once(api, calls)
    assert [r.status_code for r in responses] == [200] * len(calls), [
        r.text for r in responses if r.status_code != 200
    ]
    answers = [r.json() for r in responses]
    assert len({a["subject_id"] for a in answers}) == 1
    assert sorted(a["created"] for a in answers) == [False] * (len(calls) - 1) + [True]
    assert audit_actions(api).count("subject.created") == 1


# -- what comes out ----------------------------------------------------------------------------


def test_no_identity_is_stored_or_answered_in_plain_text(api: ConsentApi) -> None:
    subjects = [
        api.subject("email", EMAIL),
        api.subject("phone", PHONE),
        api.subject("browser_id", BROWSER_ID),
        api.subject("external_id", EXTERNAL_ID),
    ]
    for subject in subjects:
        api.record(subject, "newsletter")
        answers = [
            api.consents(subject),
            api.consents(subject, format="iso27560"),
            api.decide(subject, "newsletter"),
        ]
        assert_no_personal_data(json.dumps(answers))
    # (The fixture checks the database, the audit trail and the logs when the test is done.)
