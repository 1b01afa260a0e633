"""The consent routes of /api/v1 over HTTP: subjects, identities, consent state and history,
recording, withdrawal, signals, the batch and receipts, with every status they answer."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apikey_support import CREATED, MovingClock
from consent_api_support import (
    API,
    BROWSER_ID,
    EMAIL,
    EXTERNAL_ID,
    ON_EACH_DATABASE,
    OTHER_EMAIL,
    PHONE,
    SCOPES,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
    assert_logs_hold_no_personal_data,
    assert_no_personal_data,
    capture_logs,
    database_url,
    oversized_body,
    serve,
)
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from troth.consent.models import ConsentEvent
from troth.declaration import Policy
from troth.web.api import consents

GIVEN = {"purpose": "newsletter", "state": "given"}
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request, tmp_path) as url:
        yield url


@pytest.fixture
def api(kestrel_policy: Policy, database: str, clock: MovingClock) -> Iterator[ConsentApi]:
    with serve(kestrel_policy, database, clock) as api:
        yield api


@pytest.fixture(autouse=True)
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    capture_logs(caplog)
    yield
    assert_logs_hold_no_personal_data(caplog)


def with_ids(body: Any, subject: str = UNKNOWN_ID, record: str = UNKNOWN_ID) -> Any:
    """``body`` with SUBJECT and RECORD replaced by these ids."""
    text = json.dumps(body).replace("SUBJECT", subject).replace("RECORD", record)
    return json.loads(text)


def audit_actions(api: ConsentApi) -> list[str]:
    return [event["action"] for event in api.audit()]


# -- keys and scopes, on every route -----------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One consent route, and a call to it that succeeds with its scope."""

    method: str
    path: str  # SUBJECT and RECORD stand for a subject's and a record's id
    scope: str
    body: Any = None
    status: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(
        self,
        api: ConsentApi,
        headers: dict[str, str],
        subject: str = UNKNOWN_ID,
        record: str = UNKNOWN_ID,
    ) -> Response:
        body = None if self.body is None else with_ids(self.body, subject, record)
        path = with_ids(self.path, subject, record)
        return api.client.request(self.method, API + path, json=body, headers=headers)


ROUTES = [
    Route("POST", "/subjects", "consent:write", {"identity": {"kind": "phone", "value": PHONE}}),
    Route(
        "POST",
        "/subjects/SUBJECT/identities",
        "consent:write",
        {"kind": "external_id", "value": EXTERNAL_ID},
    ),
    Route("GET", "/subjects/SUBJECT/consents", "consent:read"),
    Route("POST", "/subjects/SUBJECT/consents", "consent:write", {"events": [GIVEN]}, 201),
    Route("POST", "/subjects/SUBJECT/consents/withdraw", "consent:write", {}),
    Route("POST", "/subjects/SUBJECT/signals", "consent:write", {"kind": "restriction"}, 201),
    Route(
        "POST", "/consents", "consent:write", {"events": [GIVEN | {"subject_id": "SUBJECT"}]}, 201
    ),
    Route("GET", "/consents/RECORD", "consent:read"),
]
SUBJECT_ROUTES = [route for route in ROUTES if route.path.startswith("/subjects/SUBJECT")]


def given_subject(api: ConsentApi) -> tuple[str, str]:
    """A subject with consent to the newsletter, and that consent's record id."""
    subject = api.subject()
    [record] = api.record(subject, "newsletter")
    return subject, record


def test_the_routes_here_are_the_consent_router_s_routes() -> None:
    tested = {
        (r.method, r.path.replace("SUBJECT", "{subject_id}").replace("RECORD", "{record_id}"))
        for r in ROUTES
    }
    served = {
        (method, route.path)
        for route in consents.router.routes
        for method in getattr(route, "methods", ())
    }
    assert tested == served


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_key_with_just_the_route_s_scope_is_answered(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    response = route.call(api, api.headers(route.scope), subject, record)
    assert response.status_code == route.status, response.text


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_no_key_or_a_wrong_key_is_401_and_changes_nothing(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    _, key = api.key(route.scope)
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    with api.nothing_written():
        response = route.call(api, {}, subject, record)
        assert_error(response, 401, "An API key is required")
        assert response.headers["www-authenticate"] == "Bearer"
        for headers in ({"Authorization": f"Bearer {wrong}"}, {"X-API-Key": wrong}):
            response = route.call(api, headers, subject, record)
            assert_error(response, 401, "The API key is not valid")
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert wrong not in response.text


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_key_without_the_route_s_scope_is_403_naming_it(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    # Every other scope there is, but not this one.
    headers = api.headers(*(scope for scope in SCOPES if scope != route.scope))
    with api.nothing_written():
        response = route.call(api, headers, subject, record)
        assert_error(response, 403, f"This API key lacks the scope '{route.scope}'")
        assert response.headers["www-authenticate"] == (
            f'Bearer error="insufficient_scope", scope="{route.scope}"'
        )


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_the_key_is_checked_before_the_subject_or_the_input(api: ConsentApi, route: Route) -> None:
    # An unknown subject or record, and a body that would be refused: still 401, then 403, so
    # that a caller without the scope learns nothing about which ids exist.
    headers = api.headers(*(scope for scope in SCOPES if scope != route.scope))
    with api.nothing_written():
        for body in ({"unexpected": True}, None):
            path = API + with_ids(route.path)
            response = api.client.request(route.method, path, json=body)
            assert_error(response, 401, "An API key is required")
            response = api.client.request(route.method, path, json=body, headers=headers)
            assert_error(response, 403, f"lacks the scope '{route.scope}'")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_an_oversized_body_is_413_and_changes_nothing(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    headers = api.headers(*SCOPES) | {"Content-Type": "application/json"}
    path = API + with_ids(route.path, subject, record)
    with api.nothing_written():
        response = api.client.request(route.method, path, content=oversized_body(), headers=headers)
        error = assert_error(response, 413, "larger than the limit of 262144 bytes")
        assert error["fields"] == []


@pytest.mark.parametrize("route", SUBJECT_ROUTES, ids=str)
def test_an_unknown_subject_is_404_and_changes_nothing(api: ConsentApi, route: Route) -> None:
    headers = api.headers(route.scope)
    with api.nothing_written():
        response = route.call(api, headers, subject=UNKNOWN_ID)
        assert_error(response, 404, "no such subject")


@pytest.mark.parametrize("route", SUBJECT_ROUTES, ids=str)
def test_a_subject_id_that_is_not_a_uuid_is_422_naming_it(api: ConsentApi, route: Route) -> None:
    headers = api.headers(route.scope)
    with api.nothing_written():
        response = route.call(api, headers, subject="customer-1842")
        assert_invalid(response, "subject_id", where="path")
        assert "customer-1842" not in response.text


def test_an_email_sent_as_a_subject_id_is_not_logged(
    api: ConsentApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="troth.web.access"):
        response = api.get(f"/subjects/{EMAIL}/consents", "consent:read")
    assert_invalid(response, "subject_id", where="path")
    access = [r.getMessage() for r in caplog.records if r.name == "troth.web.access"]
    assert access == [
        "GET /api/v1/subjects/{subject_id}/consents 422 " + access[0].rsplit(" ", 1)[-1]
    ]
    assert_logs_hold_no_personal_data(caplog)


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


# -- GET /subjects/{subject_id}/consents -------------------------------------------------------


def test_consents_answers_the_current_state_and_the_history(
    api: ConsentApi, kestrel_policy: Policy, clock: MovingClock
) -> None:
    subject = api.subject()
    empty = api.consents(subject)
    assert empty == {
        "subject_id": subject,
        "as_of": CREATED.isoformat(),
        "consents": {},
        "signals": {"restricted": False, "objections": [], "gpc_opt_out": False, "child": False},
        "history": [],
    }
    [given, refused] = api.record(
        subject, "newsletter", {"purpose": "testimonials", "state": "refused"}
    )
    clock.advance(3600)
    withdrawn = api.withdraw(subject, "newsletter")["newsletter"]
    api.signal(subject, "objection", purpose="research")
    state = api.consents(subject)
    assert state["as_of"] == (CREATED + timedelta(hours=1)).isoformat()
    assert state["consents"] == {
        "newsletter": {
            "state": "withdrawn",
            "active": False,
            "since": (CREATED + timedelta(hours=1)).isoformat(),
            "expires_at": None,
            "renewal_required": False,
            "record_id": withdrawn,
            "policy_version": "3.0",
            "method": "api",
            "acted_by": "subject",
        },
        "testimonials": {
            "state": "refused",
            "active": False,
            "since": CREATED.isoformat(),
            "expires_at": None,
            "renewal_required": False,
            "record_id": refused,
            "policy_version": "3.0",
            "method": "api",
            "acted_by": "subject",
        },
    }
    assert state["signals"] == {
        "restricted": False,
        "objections": ["research"],
        "gpc_opt_out": False,
        "child": False,
    }
    # Every event, oldest first.
    history = state["history"]
    assert [(e["record_id"], e["purpose"], e["state"]) for e in history] == [
        (given, "newsletter", "given"),
        (refused, "testimonials", "refused"),
        (withdrawn, "newsletter", "withdrawn"),
    ]
    assert history[0] == {
        "record_id": given,
        "subject_id": subject,
        "purpose": "newsletter",
        "state": "given",
        "occurred_at": CREATED.isoformat(),
        "expires_at": "2028-11-03T10:00:00+00:00",  # the purpose's consent_expires_after: P2Y
        "policy_version": "3.0",
        "notice_hash": kestrel_policy.content_hash,
        "categories": ["user.name", "user.contact.email"],
        "jurisdiction": None,
        "language": "en",
        "collection_point": None,
        "method": "api",
        "acted_by": "subject",
    }


def test_consents_as_iso_27560_records(api: ConsentApi, kestrel_policy: Policy) -> None:
    subject = api.subject()
    [given] = api.record(
        subject,
        GIVEN | {"jurisdiction": "eu-gdpr", "collection_point": "signup-form", "language": "de"},
    )
    [interest] = api.record(subject, {"purpose": "answer_inquiries", "state": "given"})
    withdrawn = api.withdraw(subject, "newsletter")["newsletter"]
    answer = api.consents(subject, format="iso27560")
    assert set(answer) == {"subject_id", "records"}
    assert answer["subject_id"] == subject
    records = answer["records"]
    assert [r["record_id"] for r in records] == [given, interest, withdrawn]
    organization = kestrel_policy.declaration.organization
    for record in records:
        assert set(record) == {
            "schema_version",
            "record_id",
            "pii_principal_id",
            "pii_controllers",
            "notice",
            "purposes",
            "events",
            "withdrawal_method",
        }
        assert record["schema_version"] == "ISO/IEC TS 27560:2023"
        assert record["pii_principal_id"] == subject
        [controller] = record["pii_controllers"]
        assert controller["name"] == organization.legal_name
        assert "/consents/withdraw" in record["withdrawal_method"]
    first = records[0]
    assert first["notice"] == {
        "notice_id": "privacy-policy/3.0",
        "version": "3.0",
        "content_hash": f"sha256:{kestrel_policy.content_hash}",
        "language": "de",
    }
    assert first["purposes"] == [
        {
            "purpose_id": "newsletter",
            "purpose": kestrel_policy.purposes["newsletter"].name,
            "purpose_type": "marketing.communications.email",
            "lawful_basis": "dpv:Consent",
            "pii_categories": ["user.name", "user.contact.email"],
            "jurisdiction": "eu-gdpr",
            "collection_method": "api",
            "collection_point": "signup-form",
        }
    ]
    assert first["events"] == [
        {
            "event_time": CREATED.isoformat(),
            "event_type": "consent_given",
            "event_by": "subject",
            "event_by_reference": None,
            "event_state": "given",
            "validity_until": "2028-11-03T10:00:00+00:00",
        }
    ]
    # The basis as the declaration gives it: DPDP's legitimate use when no jurisdiction is known.
    assert records[1]["purposes"][0]["lawful_basis"] == "in-dpdp:LegitimateUse"
    assert records[2]["events"][0]["event_type"] == "consent_withdrawn"
    assert records[2]["events"][0]["validity_until"] is None


def test_consents_refuses_an_unknown_format(api: ConsentApi) -> None:
    subject = api.subject()
    response = api.get(f"/subjects/{subject}/consents", "consent:read", format="xml")
    assert assert_invalid(response, "format", where="query") == {
        "format": "Input should be 'troth' or 'iso27560'"
    }


# -- POST /subjects/{subject_id}/consents ------------------------------------------------------


@ON_EACH_DATABASE
def test_recording_events_answers_their_record_ids_in_order(
    api: ConsentApi, clock: MovingClock
) -> None:
    subject = api.subject()
    events = [
        GIVEN,
        {
            "purpose": "child_accounts",
            "state": "given",
            "method": "web_form",
            "acted_by": "parent",
            "actor_ref": "parent-ref-77",
            "categories": ["user.name"],
            "jurisdiction": "in-dpdp",
            "language": "hi-IN",
            "collection_point": "/apps/kids/signup",
        },
        {"purpose": "site_analytics", "state": "given", "method": "cookie_banner"},
        {"purpose": "testimonials", "state": "refused"},
    ]
    response = api.post(f"/subjects/{subject}/consents", "consent:write", {"events": events})
    assert response.status_code == 201, response.text
    recorded = response.json()["recorded"]
    assert [(r["purpose"], r["state"]) for r in recorded] == [
        ("newsletter", "given"),
        ("child_accounts", "given"),
        ("site_analytics", "given"),
        ("testimonials", "refused"),
    ]
    assert all(UUID4.fullmatch(r["record_id"]) for r in recorded)
    history = {e["record_id"]: e for e in api.consents(subject)["history"]}
    assert list(history) == [r["record_id"] for r in recorded]
    child = history[recorded[1]["record_id"]]
    assert {k: child[k] for k in ("method", "acted_by", "categories", "jurisdiction")} == {
        "method": "web_form",
        "acted_by": "parent",
        "categories": ["user.name"],
        "jurisdiction": "in-dpdp",
    }
    assert (child["language"], child["collection_point"]) == ("hi-IN", "/apps/kids/signup")
    assert child["expires_at"] is None
    # Through the cookie banner, consent lasts as long as the cookie choice: six months.
    assert history[recorded[2]["record_id"]]["expires_at"] == "2027-05-03T10:00:00+00:00"
    assert history[recorded[3]["record_id"]]["expires_at"] is None
    [audit] = [e for e in api.audit() if e["action"] == "consent.recorded"]
    key_id, _ = api.key("consent:write")
    assert (audit["actor_kind"], audit["actor_id"], audit["subject_id"]) == (
        "api_key",
        key_id,
        subject,
    )
    assert audit["details"]["record_ids"] == [r["record_id"] for r in recorded]
    assert audit["details"]["states"] == {"given": 3, "refused": 1}
    assert "parent-ref-77" not in json.dumps(audit)


# -- POST /subjects/{subject_id}/consents/withdraw ---------------------------------------------


@ON_EACH_DATABASE
def test_withdrawing_is_one_call_like_giving_and_flips_the_decision(api: ConsentApi) -> None:
    subject = api.subject()
    # Giving: one call with consent:write. Withdrawing: one call with the same scope.
    [given] = api.record(subject, "newsletter")
    api.record(subject, "site_analytics", "testimonials")
    assert api.reason(subject, "newsletter") == "consent"
    response = api.post(
        f"/subjects/{subject}/consents/withdraw", "consent:write", {"purposes": ["newsletter"]}
    )
    assert response.status_code == 200, response.text
    [withdrawn] = response.json()["withdrawn"]
    assert set(withdrawn) == {"record_id", "purpose"} and withdrawn["purpose"] == "newsletter"
    assert withdrawn["record_id"] != given
    decision = api.decide(subject, "newsletter")
    assert (decision["allowed"], decision["reason"], decision["record_id"]) == (
        False,
        "consent_withdrawn",
        withdrawn["record_id"],
    )
    assert api.reason(subject, "site_analytics") == "consent"
    [event] = [e for e in api.consents(subject)["history"] if e["state"] == "withdrawn"]
    assert (event["record_id"], event["method"]) == (withdrawn["record_id"], "api")


@ON_EACH_DATABASE
def test_withdrawing_without_purposes_withdraws_every_consent_given(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(
        subject,
        "newsletter",
        "site_analytics",
        {"purpose": "testimonials", "state": "refused"},
    )
    api.withdraw(subject, "newsletter")
    for purpose in ("newsletter", "site_analytics", "testimonials"):
        api.reason(subject, purpose)  # cached
    response = api.post(
        f"/subjects/{subject}/consents/withdraw", "consent:write", {"method": "email_link"}
    )
    assert response.status_code == 200, response.text
    # Only what was still given: the newsletter was withdrawn already, testimonials refused.
    [withdrawn] = response.json()["withdrawn"]
    assert withdrawn["purpose"] == "site_analytics"
    assert api.reason(subject, "site_analytics") == "consent_withdrawn"
    assert api.reason(subject, "testimonials") == "consent_refused"
    history = api.consents(subject)["history"]
    assert (history[-1]["record_id"], history[-1]["method"]) == (
        withdrawn["record_id"],
        "email_link",
    )
    # Nothing left to withdraw: nothing recorded.
    with api.nothing_written():
        assert api.withdraw(subject) == {}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"purposes": ["newsletter", EMAIL]}, ["purposes[1]"]),
        ({"purposes": "newsletter"}, ["purposes"]),
        ({"purposes": [7]}, ["purposes[0]"]),
        ({"purposes": ["newsletter"], "method": "cookie_banner"}, ["method"]),
        ({"purposes": ["newsletter"], "reason": "moved away"}, ["reason"]),
        ({"purposes": ["newsletter"] * 101}, ["purposes"]),
    ],
)
def test_withdrawing_refuses_bad_input_naming_the_field_and_writes_nothing(
    api: ConsentApi, body: dict[str, Any], fields: list[str]
) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/consents/withdraw", "consent:write", body)
        assert_invalid(response, *fields)
    assert api.reason(subject, "newsletter") == "consent"


# -- POST /subjects/{subject_id}/signals -------------------------------------------------------


def test_signals_are_raised_and_lifted(api: ConsentApi) -> None:
    subject = api.subject()
    raised = [
        {"kind": "restriction"},
        {"kind": "objection", "purpose": "research"},
        {"kind": "objection"},
        {"kind": "gpc_opt_out", "active": True},
        {"kind": "child"},
    ]
    for body in raised:
        response = api.post(f"/subjects/{subject}/signals", "consent:write", body)
        assert response.status_code == 201, response.text
        assert response.json() == {"active": True, "purpose": None} | body
    assert api.consents(subject)["signals"] == {
        "restricted": True,
        "objections": ["*", "research"],
        "gpc_opt_out": True,
        "child": True,
    }
    for body in raised:
        answer = api.signal(subject, **(body | {"active": False}))
        assert answer["active"] is False
    assert api.consents(subject)["signals"] == {
        "restricted": False,
        "objections": [],
        "gpc_opt_out": False,
        "child": False,
    }
    actions = audit_actions(api)
    for kind in ("restriction", "objection", "gpc_opt_out", "child"):
        assert f"subject.{kind}_raised" in actions and f"subject.{kind}_lifted" in actions
    # A signal is about a subject: its id, never an identity, is in the audit event.
    assert {
        e["subject_id"] for e in api.audit() if e["action"].endswith(("_raised", "_lifted"))
    } == {subject}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "hold"}, ["kind"]),
        ({}, ["kind"]),
        ({"kind": "objection", "purpose": EMAIL}, ["purpose"]),
        ({"kind": "restriction", "purpose": "newsletter"}, ["purpose"]),
        ({"kind": "child", "active": "maybe"}, ["active"]),
        ({"kind": "objection", "purpose": ["newsletter"]}, ["purpose"]),
        ({"kind": "child", "birth_date": "2015-04-01"}, ["birth_date"]),
    ],
)
def test_signals_refuse_bad_input_naming_the_field_and_write_nothing(
    api: ConsentApi, body: dict[str, Any], fields: list[str]
) -> None:
    subject = api.subject()
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/signals", "consent:write", body)
        assert_invalid(response, *fields)


# -- POST /consents (the batch) ----------------------------------------------------------------


def by_identity(kind: str, value: str, **event: Any) -> dict[str, Any]:
    return {"identity": {"kind": kind, "value": value}, **(GIVEN | event)}


@ON_EACH_DATABASE
def test_the_batch_records_for_many_subjects_by_id_or_by_identity(api: ConsentApi) -> None:
    known = api.subject("phone", PHONE)
    events = [
        by_identity("email", EMAIL),
        {"subject_id": known, "purpose": "site_analytics", "state": "refused"},
        # The same person again, spelled otherwise: the subject created above.
        by_identity("email", EMAIL.upper(), purpose="testimonials"),
        by_identity("external_id", EXTERNAL_ID, purpose="recruitment"),
    ]
    response = api.post("/consents", "consent:write", {"events": events})
    assert response.status_code == 201, response.text
    recorded = response.json()["recorded"]
    created = api.subject("email", EMAIL)
    external = api.subject("external_id", EXTERNAL_ID)
    assert [(r["subject_id"], r["purpose"]) for r in recorded] == [
        (created, "newsletter"),
        (known, "site_analytics"),
        (created, "testimonials"),
        (external, "recruitment"),
    ]
    assert len({created, known, external}) == 3
    assert [e["record_id"] for e in api.consents(created)["history"]] == [
        recorded[0]["record_id"],
        recorded[2]["record_id"],
    ]
    assert [e["record_id"] for e in api.consents(known)["history"]] == [recorded[1]["record_id"]]
    assert api.reason(created, "testimonials") == "consent"
    assert api.reason(known, "site_analytics") == "consent_refused"
    # A subject.created event for each person new to troth, then one for the whole batch.
    actions = [a for a in audit_actions(api) if a.startswith(("subject.", "consent."))]
    assert actions == ["subject.created"] * 3 + ["consent.recorded"]
    [batch] = [e for e in api.audit() if e["action"] == "consent.recorded"]
    assert batch["subject_id"] is None
    assert sorted(batch["details"]["subjects"]) == sorted({created, known, external})
    assert batch["details"]["events"] == 4


BATCH_EVENT = {"subject_id": "SUBJECT"} | GIVEN


@pytest.mark.parametrize(
    ("events", "fields", "sent"),
    [
        # A new person first, then a mistake: the person is not created either.
        (
            [by_identity("email", EMAIL), by_identity("email", EMAIL, purpose=OTHER_EMAIL)],
            ["events[1].purpose"],
            None,
        ),
        (
            [by_identity("email", EMAIL), by_identity("email", "ada.lovelace.example.com")],
            ["events[1].identity.value"],
            "ada.lovelace.example.com",
        ),
        (
            [by_identity("email", EMAIL), by_identity("phone", "12345")],
            ["events[1].identity.value"],
            None,
        ),
        (
            [by_identity("email", EMAIL, categories=["user.financial"])],
            ["events[0].categories[0]"],
            None,
        ),
        ([by_identity("fax", EMAIL)], ["events[0].identity.kind"], None),
        ([by_identity("email", EMAIL) | {"subject_id": "SUBJECT"}], ["events[0]"], None),
        ([GIVEN], ["events[0]"], None),
        ([BATCH_EVENT, BATCH_EVENT | {"subject_id": UNKNOWN_ID}], ["events[1].subject_id"], None),
        ([BATCH_EVENT | {"subject_id": 42}], ["events[0].subject_id"], None),
        ([BATCH_EVENT | {"state": "maybe"}], ["events[0].state"], None),
        ([BATCH_EVENT | {"email": EMAIL}], ["events[0].email"], None),
        (
            [BATCH_EVENT | {"identity": {"kind": "email", "value": EMAIL, "x": 1}}],
            ["events[0].identity.x"],
            None,
        ),
        ([], ["events"], None),
        ([by_identity("email", EMAIL)] * 1001, ["events"], None),
    ],
)
def test_a_refused_batch_writes_nothing_not_even_its_new_subjects(
    api: ConsentApi, events: list[dict[str, Any]], fields: list[str], sent: str | None
) -> None:
    subject = api.subject("phone", PHONE)
    api.record(subject, "site_analytics")
    history = api.consents(subject)["history"]
    with api.nothing_written():
        response = api.post("/consents", "consent:write", {"events": with_ids(events, subject)})
        assert_invalid(response, *fields)
        if sent is not None:
            assert sent not in response.text
    assert api.consents(subject)["history"] == history


@ON_EACH_DATABASE
def test_a_refused_batch_on_each_database(api: ConsentApi) -> None:
    subject = api.subject("phone", PHONE)
    events = [
        {"subject_id": subject} | GIVEN,
        by_identity("email", EMAIL),
        by_identity("email", OTHER_EMAIL, purpose="teleportation"),
    ]
    with api.nothing_written():
        response = api.post("/consents", "consent:write", {"events": events})
        assert_invalid(response, "events[2].purpose")
    assert api.consents(subject)["history"] == []
    assert api.reason(subject, "newsletter") == "no_consent"


# -- GET /consents/{record_id} -----------------------------------------------------------------


def test_a_record_and_its_receipt(api: ConsentApi) -> None:
    subject = api.subject()
    [given, interest] = api.record(
        subject,
        GIVEN | {"acted_by": "nominee", "actor_ref": "nominee-4"},
        {"purpose": "answer_inquiries", "state": "given", "jurisdiction": "eu-gdpr"},
    )
    history = {e["record_id"]: e for e in api.consents(subject)["history"]}
    records = {r["record_id"]: r for r in api.consents(subject, format="iso27560")["records"]}
    for record_id in (given, interest):
        response = api.get(f"/consents/{record_id}", "consent:read")
        assert response.status_code == 200, response.text
        assert response.json() == history[record_id]
        receipt = api.get(f"/consents/{record_id}", "consent:read", format="iso27560")
        assert receipt.status_code == 200, receipt.text
        assert receipt.json() == records[record_id]
    receipt = records[given]
    assert receipt["record_id"] == given and receipt["pii_principal_id"] == subject
    assert receipt["events"][0]["event_by"] == "nominee"
    assert receipt["events"][0]["event_by_reference"] == "nominee-4"
    # Under the GDPR, answering inquiries rests on legitimate interest.
    assert records[interest]["purposes"][0]["lawful_basis"] == "dpv:LegitimateInterest"


def test_an_unknown_record_is_404_and_a_malformed_one_422(api: ConsentApi) -> None:
    response = api.get(f"/consents/{UNKNOWN_ID}", "consent:read")
    assert_error(response, 404, "no such consent record")
    response = api.get(f"/consents/{UNKNOWN_ID}", "consent:read", format="iso27560")
    assert_error(response, 404, "no such consent record")
    response = api.get(f"/consents/{UNKNOWN_ID}x", "consent:read")
    assert_invalid(response, "record_id", where="path")
    _, record = given_subject(api)
    response = api.get(f"/consents/{record}", "consent:read", format="pdf")
    assert_invalid(response, "format", where="query")


# -- at the same time --------------------------------------------------------------------------


def at_once(api: ConsentApi, calls: list[tuple[str, Any]]) -> list[Response]:
    """POST each (path, body) from its own thread, all released together."""
    headers = api.headers("consent:write")
    start = threading.Barrier(len(calls))

    def post(call: tuple[str, Any]) -> Response:
        client = TestClient(api.app)  # on the running app, not started again
        start.wait()
        return client.post(API + call[0], json=call[1], headers=headers)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(post, calls))


@ON_EACH_DATABASE
def test_writes_for_many_subjects_at_once_all_succeed(api: ConsentApi) -> None:
    subjects = [api.subject("external_id", f"customer-{n}") for n in range(12)]
    calls = [(f"/subjects/{subject}/consents", {"events": [GIVEN]}) for subject in subjects]
    responses = at_once(api, calls)
    assert [r.status_code for r in responses] == [201] * len(subjects), [
        r.text for r in responses if r.status_code != 201
    ]
    assert {api.reason(subject, "newsletter") for subject in subjects} == {"consent"}


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


# -- a write is answered once it is committed --------------------------------------------------


class WatchResponses:
    """ASGI middleware calling ``on_start(path)`` just before a response starts to be sent."""

    def __init__(self, app: Any, on_start: Any) -> None:
        self.app = app
        self.on_start = on_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.on_start(scope["path"])
            await send(message)

        await self.app(scope, receive, watch if scope["type"] == "http" else send)


def test_a_write_is_committed_and_its_decision_current_before_the_answer_is_sent(
    api: ConsentApi,
) -> None:
    subject = api.subject()
    assert api.reason(subject, "newsletter") == "no_consent"  # now in the decision cache
    seen: dict[str, Any] = {}

    def on_start(path: str) -> None:
        if path.endswith("/consents"):
            with api.engine.connect() as connection:
                seen["stored"] = connection.scalar(select(func.count()).select_from(ConsentEvent))
            seen["decision"] = api.app.state.site.decisions.allows(subject, "newsletter").reason

    # A second client on the running app (outside `with`, so it does not start it again).
    watched = TestClient(WatchResponses(api.app, on_start))
    response = watched.post(
        f"{API}/subjects/{subject}/consents",
        json={"events": [{"purpose": "newsletter", "state": "given"}]},
        headers=api.headers("consent:write"),
    )
    assert response.status_code == 201, response.text
    # A caller that asks the moment it has its 201 is told what it just recorded.
    assert seen == {"stored": 1, "decision": "consent"}


def test_a_write_whose_commit_fails_is_not_answered_as_done(api: ConsentApi) -> None:
    subject = api.subject()
    sessions = api.app.state.site.sessions

    def fail(session: Session) -> None:
        raise RuntimeError("the database went away")

    event.listen(sessions, "before_commit", fail)
    try:
        response = api.post(
            f"/subjects/{subject}/consents",
            "consent:write",
            {"events": [{"purpose": "newsletter", "state": "given"}]},
        )
    finally:
        event.remove(sessions, "before_commit", fail)
    assert_error(response, 500, "Something went wrong on our side")
    assert api.consents(subject)["history"] == []
    assert api.reason(subject, "newsletter") == "no_consent"


# -- POST /subjects/{subject_id}/consents: refused input -----------------------------------------


@pytest.mark.parametrize(
    ("events", "fields"),
    [
        # An email address sent where a purpose belongs: named, not repeated.
        ([GIVEN, {"purpose": EMAIL, "state": "given"}], ["events[1].purpose"]),
        ([GIVEN, GIVEN | {"categories": ["user.name", EMAIL]}], ["events[1].categories[1]"]),
        ([GIVEN | {"categories": ["user.financial"]}], ["events[0].categories[0]"]),
        ([GIVEN | {"state": 3}], ["events[0].state"]),
        ([GIVEN | {"state": "expired"}], ["events[0].state"]),
        ([GIVEN | {"categories": "user.name"}], ["events[0].categories"]),
        ([GIVEN | {"acted_by": ["parent"]}], ["events[0].acted_by"]),
        ([{"purpose": "newsletter"}], ["events[0].state"]),
        ([{"state": "given"}, {}], ["events[0].purpose", "events[1].purpose", "events[1].state"]),
        ([GIVEN | {"email": EMAIL}], ["events[0].email"]),
        ([GIVEN | {"jurisdiction": "us-tx-tdpsa"}], ["events[0].jurisdiction"]),
        ([GIVEN | {"language": "not a language"}], ["events[0].language"]),
        ([GIVEN | {"method": "carrier_pigeon"}], ["events[0].method"]),
        ([], ["events"]),
        ([GIVEN] * 1001, ["events"]),
    ],
)
def test_recording_refuses_bad_events_naming_the_field_and_writes_nothing(
    api: ConsentApi, events: list[dict[str, Any]], fields: list[str]
) -> None:
    subject = api.subject()
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/consents", "consent:write", {"events": events})
        assert_invalid(response, *fields)
    assert api.consents(subject)["history"] == []


def test_an_undeclared_purpose_or_category_is_explained_without_repeating_it(
    api: ConsentApi,
) -> None:
    subject = api.subject()
    body = {"events": [GIVEN, {"purpose": EMAIL, "state": "given"}]}
    response = api.post(f"/subjects/{subject}/consents", "consent:write", body)
    message = assert_invalid(response, "events[1].purpose")["events[1].purpose"]
    assert message.startswith("is not a declared purpose; declared: answer_inquiries, ")
    body = {"events": [GIVEN | {"categories": [EMAIL]}]}
    response = api.post(f"/subjects/{subject}/consents", "consent:write", body)
    message = assert_invalid(response, "events[0].categories[0]")["events[0].categories[0]"]
    assert message == (
        "is not a data category of purpose 'newsletter'; its categories: "
        "user.name, user.contact.email"
    )
    response = api.post(
        f"/subjects/{subject}/signals", "consent:write", {"kind": "objection", "purpose": EMAIL}
    )
    assert assert_invalid(response, "purpose") == {"purpose": "is not a declared purpose"}
    response = api.post(
        f"/subjects/{subject}/consents/withdraw",
        "consent:write",
        {"purposes": ["newsletter", EMAIL]},
    )
    assert assert_invalid(response, "purposes[1]") == {
        "purposes[1]": "is not a declared purpose; declared: "
        + ", ".join(api.app.state.site.policy.purposes)
    }
