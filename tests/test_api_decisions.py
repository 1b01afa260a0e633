"""The decision routes of /api/v1 over HTTP: "may I?" for one subject and purpose, and for many,
with every reason the decision gives, each reached through the API."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apikey_support import CREATED, MovingClock
from consent_api_support import (
    API,
    EMAIL,
    ON_EACH_DATABASE,
    OTHER_EMAIL,
    PHONE,
    SCOPES,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
    assert_logs_hold_no_personal_data,
    capture_logs,
    database_url,
    oversized_body,
    serve,
)
from httpx import Response

from troth.consent import Reason, require_renewal
from troth.declaration import Policy
from troth.web.api import decisions

NEWSLETTER_EXPIRES = CREATED.replace(year=CREATED.year + 2)  # consent_expires_after: P2Y
COOKIE_CHOICE_EXPIRES = CREATED.replace(year=CREATED.year + 1, month=5)  # cookies: P6M


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


def ask_many(api: ConsentApi, pairs: list[tuple[str, str]]) -> Response:
    queries = [{"subject": subject, "purpose": purpose} for subject, purpose in pairs]
    return api.post("/decisions", "decide", {"queries": queries})


def reasons(api: ConsentApi, subject: str, *purposes: str) -> dict[str, str]:
    return {purpose: api.reason(subject, purpose) for purpose in purposes}


# -- keys and scopes ---------------------------------------------------------------------------


def routes(subject: str) -> list[tuple[str, str, Any]]:
    """Each decision route: method, path, and a body it answers 200."""
    return [
        ("GET", f"/decisions?subject={subject}&purpose=newsletter", None),
        ("POST", "/decisions", {"queries": [{"subject": subject, "purpose": "newsletter"}]}),
    ]


ROUTE_IDS = ["GET /decisions", "POST /decisions"]


def test_the_routes_here_are_the_decision_router_s_routes() -> None:
    served = {
        (method, route.path)
        for route in decisions.router.routes
        for method in getattr(route, "methods", ())
    }
    assert served == {(method, path.split("?")[0]) for method, path, _ in routes(UNKNOWN_ID)}


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_a_key_with_just_decide_is_answered(api: ConsentApi, index: int) -> None:
    method, path, body = routes(api.subject())[index]
    response = api.call(method, path, ("decide",), body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_no_key_or_a_wrong_key_is_401(api: ConsentApi, index: int) -> None:
    method, path, body = routes(api.subject())[index]
    _, key = api.key("decide")
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = api.client.request(method, API + path, json=body)
    assert_error(response, 401, "An API key is required")
    assert response.headers["www-authenticate"] == "Bearer"
    for headers in ({"Authorization": f"Bearer {wrong}"}, {"X-API-Key": wrong}):
        response = api.client.request(method, API + path, json=body, headers=headers)
        assert_error(response, 401, "The API key is not valid")
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_a_key_without_decide_is_403_naming_it(api: ConsentApi, index: int) -> None:
    method, path, body = routes(api.subject())[index]
    # Reading consent is not deciding: a key with every other scope is refused.
    response = api.call(method, path, tuple(s for s in SCOPES if s != "decide"), body)
    assert_error(response, 403, "This API key lacks the scope 'decide'")
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="decide"'
    )


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_the_key_is_checked_before_the_input(api: ConsentApi, index: int) -> None:
    method, path, body = routes("not-a-subject-id")[index]
    response = api.client.request(method, API + path, json=body)
    assert_error(response, 401, "An API key is required")
    response = api.call(method, path, ("consent:read",), body)
    assert_error(response, 403, "lacks the scope 'decide'")


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_an_oversized_body_is_413(api: ConsentApi, index: int) -> None:
    method, path, _ = routes(api.subject())[index]
    headers = api.headers("decide") | {"Content-Type": "application/json"}
    response = api.client.request(method, API + path, content=oversized_body(), headers=headers)
    error = assert_error(response, 413, "larger than the limit of 262144 bytes")
    assert error["fields"] == []


# -- GET /decisions ----------------------------------------------------------------------------


def test_a_decision_answers_allowed_the_reason_and_what_it_rests_on(api: ConsentApi) -> None:
    subject = api.subject()
    [record] = api.record(subject, "newsletter")
    response = api.get("/decisions", "decide", subject=subject, purpose="newsletter")
    assert response.status_code == 200, response.text
    until = NEWSLETTER_EXPIRES.isoformat()
    assert response.json() == {
        "subject": subject,
        "allowed": True,
        "reason": "consent",
        "explanation": f"consent given until {until}",
        "purpose": "newsletter",
        "basis": "consent",
        "record_id": record,
        "until": until,
    }
    denied = api.decide(subject, "testimonials")
    assert denied == {
        "subject": subject,
        "allowed": False,
        "reason": "no_consent",
        "explanation": "the purpose needs consent and none was given",
        "purpose": "testimonials",
        "basis": "consent",
        "record_id": None,
        "until": None,
    }


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"subject": EMAIL, "purpose": "newsletter"}, ["subject"]),
        ({"subject": UNKNOWN_ID.replace("0", "A"), "purpose": "newsletter"}, ["subject"]),
        ({"purpose": "newsletter"}, ["subject"]),
        ({"subject": UNKNOWN_ID}, ["purpose"]),
        ({"subject": UNKNOWN_ID, "purpose": "p" * 201}, ["purpose"]),
        ({}, ["subject", "purpose"]),
    ],
)
def test_a_bad_query_is_422_naming_the_parameter(
    api: ConsentApi, params: dict[str, str], fields: list[str]
) -> None:
    response = api.call("GET", "/decisions", ("decide",), params=params)
    assert_invalid(response, *fields, where="query")


def test_an_unknown_subject_has_no_consent_but_its_legal_bases(api: ConsentApi) -> None:
    # Not a 404: a subject troth has never heard of has consented to nothing (docs/consent.md).
    assert reasons(api, UNKNOWN_ID, "newsletter", "deliver_projects", "billing") == {
        "newsletter": "no_consent",
        "deliver_projects": "legal_basis",
        "billing": "legal_basis",
    }


def test_an_undeclared_purpose_is_denied(api: ConsentApi) -> None:
    subject = api.subject()
    decision = api.decide(subject, "teleportation")
    assert decision == {
        "subject": subject,
        "allowed": False,
        "reason": "undeclared_purpose",
        "explanation": "the purpose is not declared in the policy",
        "purpose": "teleportation",
        "basis": None,
        "record_id": None,
        "until": None,
    }


# -- every reason, reached through the API; each write changes the answer at once ---------------


def test_contract_and_legal_obligation_need_no_consent(api: ConsentApi) -> None:
    subject = api.subject()
    for purpose, basis in [
        ("deliver_projects", "contract"),
        ("operate_client_apps", "contract"),
        ("billing", "legal_obligation"),
        ("legal_requests", "legal_obligation"),
        ("security", "legitimate_use"),
    ]:
        decision = api.decide(subject, purpose)
        assert (decision["allowed"], decision["reason"], decision["basis"]) == (
            True,
            "legal_basis",
            basis,
        )
        assert decision["explanation"] == (
            f"the purpose's legal basis ({basis}) does not need consent"
        )
    # Refusing a purpose that rests on a contract changes nothing: it never asked for consent.
    api.record(subject, {"purpose": "deliver_projects", "state": "refused"})
    assert api.reason(subject, "deliver_projects") == "legal_basis"


@ON_EACH_DATABASE
def test_given_allows_withdrawn_and_refused_deny(api: ConsentApi) -> None:
    subject = api.subject()
    assert reasons(api, subject, "newsletter", "testimonials") == {
        "newsletter": "no_consent",
        "testimonials": "no_consent",
    }
    [given, refused] = api.record(
        subject, "newsletter", {"purpose": "testimonials", "state": "refused"}
    )
    assert api.decide(subject, "newsletter")["record_id"] == given
    assert api.decide(subject, "testimonials")["record_id"] == refused
    assert reasons(api, subject, "newsletter", "testimonials") == {
        "newsletter": "consent",
        "testimonials": "consent_refused",
    }
    withdrawn = api.withdraw(subject, "newsletter")["newsletter"]
    decision = api.decide(subject, "newsletter")
    assert (decision["allowed"], decision["reason"], decision["record_id"]) == (
        False,
        "consent_withdrawn",
        withdrawn,
    )
    assert decision["explanation"] == "consent was withdrawn"
    api.record(subject, "newsletter", "testimonials")
    assert reasons(api, subject, "newsletter", "testimonials") == {
        "newsletter": "consent",
        "testimonials": "consent",
    }


def test_a_purpose_that_offers_an_opt_out_is_denied_once_opted_out(api: ConsentApi) -> None:
    subject = api.subject()
    assert api.reason(subject, "answer_inquiries") == "legal_basis"
    api.withdraw(subject, "answer_inquiries")
    decision = api.decide(subject, "answer_inquiries")
    assert (decision["allowed"], decision["reason"], decision["basis"]) == (
        False,
        "opted_out",
        "legitimate_use",
    )


@ON_EACH_DATABASE
def test_consent_expires_when_its_time_is_up(api: ConsentApi, clock: MovingClock) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    api.record(subject, {"purpose": "site_analytics", "state": "given", "method": "cookie_banner"})
    assert reasons(api, subject, "newsletter", "site_analytics") == {
        "newsletter": "consent",
        "site_analytics": "consent",
    }
    assert api.decide(subject, "site_analytics")["until"] == COOKIE_CHOICE_EXPIRES.isoformat()
    clock.now = COOKIE_CHOICE_EXPIRES - timedelta(seconds=1)
    assert api.reason(subject, "site_analytics") == "consent"
    clock.now = COOKIE_CHOICE_EXPIRES
    assert reasons(api, subject, "newsletter", "site_analytics") == {
        "newsletter": "consent",
        "site_analytics": "consent_expired",
    }
    clock.now = NEWSLETTER_EXPIRES
    decision = api.decide(subject, "newsletter")
    assert (decision["allowed"], decision["reason"], decision["explanation"]) == (
        False,
        "consent_expired",
        "consent expired",
    )
    newsletter = api.consents(subject)["consents"]["newsletter"]
    assert (newsletter["state"], newsletter["active"], newsletter["since"]) == (
        "expired",
        False,
        NEWSLETTER_EXPIRES.isoformat(),
    )
    # Given again, it counts again.
    api.record(subject, "newsletter")
    assert api.reason(subject, "newsletter") == "consent"


def test_a_material_policy_change_requires_consent_again(
    api: ConsentApi, clock: MovingClock, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    assert reasons(api, subject, "newsletter", "billing") == {
        "newsletter": "consent",
        "billing": "legal_basis",
    }
    clock.advance(60)
    with api.app.state.site.sessions.begin() as session:
        renewed = require_renewal(session, kestrel_history[-1], kestrel_policy, clock())
    assert "newsletter" in renewed
    decision = api.decide(subject, "newsletter")
    assert (decision["allowed"], decision["reason"]) == (False, "renewal_required")
    assert decision["explanation"].startswith("the policy changed materially")
    assert api.reason(subject, "billing") == "legal_basis"
    newsletter = api.consents(subject)["consents"]["newsletter"]
    assert (newsletter["renewal_required"], newsletter["active"]) == (True, False)
    clock.advance(60)
    api.record(subject, "newsletter")
    assert api.reason(subject, "newsletter") == "consent"


def test_a_restriction_denies_all_but_legal_obligations_until_lifted(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    purposes = ("newsletter", "deliver_projects", "billing", "answer_inquiries")
    assert reasons(api, subject, *purposes) == dict.fromkeys(purposes, "consent") | {
        "deliver_projects": "legal_basis",
        "billing": "legal_basis",
        "answer_inquiries": "legal_basis",
    }
    api.signal(subject, "restriction")
    api.signal(subject, "objection")  # a restriction is checked first
    assert reasons(api, subject, *purposes) == {
        "newsletter": "restricted",
        "deliver_projects": "restricted",
        "billing": "legal_basis",
        "answer_inquiries": "restricted",
    }
    api.signal(subject, "restriction", active=False)
    api.signal(subject, "objection", active=False)
    assert api.reason(subject, "newsletter") == "consent"


def test_an_objection_denies_what_does_not_rest_on_a_firm_basis(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    purposes = ("research", "security", "newsletter", "deliver_projects", "billing")
    reasons(api, subject, *purposes)  # cached
    api.signal(subject, "objection", purpose="research")
    assert reasons(api, subject, *purposes) == {
        "research": "objected",
        "security": "legal_basis",
        "newsletter": "consent",
        "deliver_projects": "legal_basis",
        "billing": "legal_basis",
    }
    api.signal(subject, "objection")  # to every purpose
    assert reasons(api, subject, *purposes) == {
        "research": "objected",
        "security": "objected",
        "newsletter": "objected",
        "deliver_projects": "legal_basis",  # a contract
        "billing": "legal_basis",  # a legal obligation
    }
    api.signal(subject, "objection", active=False)
    assert api.reason(subject, "security") == "legal_basis"
    assert api.reason(subject, "research") == "objected"


def test_global_privacy_control_denies_the_purposes_it_covers(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter", "email_engagement", "site_analytics")
    purposes = ("newsletter", "email_engagement", "site_analytics")
    assert reasons(api, subject, *purposes) == dict.fromkeys(purposes, "consent")
    api.signal(subject, "gpc_opt_out")
    # The tracking pixels behind marketing cookies, not the newsletter asked for.
    assert reasons(api, subject, *purposes) == dict.fromkeys(purposes, "consent") | {
        "email_engagement": "gpc_opt_out"
    }
    api.signal(subject, "gpc_opt_out", active=False)
    assert api.reason(subject, "email_engagement") == "consent"


def test_a_child_needs_a_parent_s_consent(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter", "child_accounts")
    purposes = ("newsletter", "child_accounts", "deliver_projects", "billing")
    reasons(api, subject, *purposes)  # cached
    api.signal(subject, "child")
    assert reasons(api, subject, *purposes) == {
        "newsletter": "child_without_parental_consent",
        "child_accounts": "child_without_parental_consent",
        "deliver_projects": "child_without_parental_consent",
        "billing": "legal_basis",
    }
    api.record(subject, {"purpose": "child_accounts", "state": "given", "acted_by": "parent"})
    assert api.reason(subject, "child_accounts") == "consent"
    assert api.reason(subject, "newsletter") == "child_without_parental_consent"


@ON_EACH_DATABASE
def test_serving_a_materially_changed_policy_asks_for_consent_again(
    database: str, clock: MovingClock, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    previous = kestrel_history[-1]
    with serve(previous, database, clock) as old:
        subject = old.subject()
        [record] = old.record(subject, "newsletter")
        assert old.reason(subject, "newsletter") == "consent"
    clock.advance(timedelta(days=30).total_seconds())
    # Serving the new version records it, compares it with 2.0, and requires renewal.
    with serve(kestrel_policy, database, clock) as new:
        assert new.reason(subject, "newsletter") == "renewal_required"
        assert new.reason(subject, "billing") == "legal_basis"
        # The receipt still shows the notice the consent was given under.
        response = new.get(f"/consents/{record}", "consent:read", format="iso27560")
        assert response.status_code == 200, response.text
        receipt = response.json()
        assert receipt["notice"]["version"] == previous.version == "2.0"
        assert receipt["notice"]["content_hash"] == f"sha256:{previous.content_hash}"
        assert receipt["purposes"][0]["purpose"] == previous.purposes["newsletter"].name
        new.record(subject, "newsletter")
        assert new.reason(subject, "newsletter") == "consent"
        assert [e["policy_version"] for e in new.consents(subject)["history"]] == ["2.0", "3.0"]


@ON_EACH_DATABASE
def test_a_write_through_one_server_reaches_another_s_decisions(
    database: str, clock: MovingClock, kestrel_policy: Policy
) -> None:
    with (
        serve(kestrel_policy, database, clock) as one,
        serve(kestrel_policy, database, clock) as two,
    ):
        subject = one.subject()
        assert two.reason(subject, "newsletter") == "no_consent"  # cached by the second
        one.record(subject, "newsletter")
        # The second server follows the change feed (every 250 ms).
        deadline = time.monotonic() + 5
        while two.reason(subject, "newsletter") != "consent":
            assert time.monotonic() < deadline, "the second server still answers from before"
            time.sleep(0.05)


@ON_EACH_DATABASE
def test_every_reason_can_be_reached_through_the_api(
    api: ConsentApi, clock: MovingClock, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    asked: list[tuple[str, str]] = []
    numbers = itertools.count()

    def subject_with(*events: str | dict[str, Any]) -> str:
        subject = api.subject("external_id", f"customer-{next(numbers)}")
        if events:
            api.record(subject, *events)
        return subject

    renewed = subject_with("newsletter")
    clock.advance(60)
    with api.app.state.site.sessions.begin() as session:
        require_renewal(session, kestrel_history[-1], kestrel_policy, clock())
    clock.advance(60)
    asked.append((renewed, "newsletter"))
    expiring = subject_with(
        {"purpose": "site_analytics", "state": "given", "method": "cookie_banner"}
    )
    plain = subject_with("newsletter", {"purpose": "testimonials", "state": "refused"})
    api.withdraw(plain, "newsletter")
    api.withdraw(plain, "answer_inquiries")
    asked += [(plain, p) for p in ("newsletter", "testimonials", "answer_inquiries", "billing")]
    asked += [(plain, "teleportation"), (plain, "recruitment")]
    given = subject_with("recruitment")
    asked.append((given, "recruitment"))
    for kind, purpose in [
        ("restriction", "security"),
        ("objection", "security"),
        ("gpc_opt_out", "email_engagement"),
        ("child", "deliver_projects"),
    ]:
        subject = subject_with("email_engagement")
        api.signal(subject, kind)
        asked.append((subject, purpose))
    clock.advance(timedelta(days=200).total_seconds())  # past the cookie choice's six months
    asked.append((expiring, "site_analytics"))

    response = ask_many(api, asked)
    assert response.status_code == 200, response.text
    reached = [d["reason"] for d in response.json()["decisions"]]
    assert sorted(reached) == sorted(reason.value for reason in Reason)


# -- POST /decisions ---------------------------------------------------------------------------


def test_the_batch_answers_in_the_order_asked(api: ConsentApi) -> None:
    ada = api.subject("email", EMAIL)
    grace = api.subject("email", OTHER_EMAIL)
    api.record(ada, "newsletter")
    api.record(grace, {"purpose": "newsletter", "state": "refused"}, "site_analytics")
    pairs = [
        (grace, "site_analytics"),
        (ada, "newsletter"),
        (UNKNOWN_ID, "billing"),
        (grace, "newsletter"),
        (ada, "teleportation"),
        (ada, "newsletter"),
        (grace, "deliver_projects"),
    ]
    response = ask_many(api, pairs)
    assert response.status_code == 200, response.text
    answers = response.json()["decisions"]
    assert [(a["subject"], a["purpose"]) for a in answers] == pairs
    assert [a["reason"] for a in answers] == [
        "consent",
        "consent",
        "legal_basis",
        "consent_refused",
        "undeclared_purpose",
        "consent",
        "legal_basis",
    ]
    # Each answer is the one GET /decisions gives.
    assert answers == [api.decide(subject, purpose) for subject, purpose in pairs]


def test_the_batch_sees_a_write_at_once(api: ConsentApi) -> None:
    subject = api.subject()
    pair = [(subject, "newsletter")]
    assert ask_many(api, pair).json()["decisions"][0]["reason"] == "no_consent"
    body = {"events": [{"subject_id": subject, "purpose": "newsletter", "state": "given"}]}
    assert api.post("/consents", "consent:write", body).status_code == 201
    assert ask_many(api, pair).json()["decisions"][0]["reason"] == "consent"


def test_the_batch_takes_up_to_1000_queries(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    purposes = ["newsletter", "testimonials", "billing", "teleportation"]
    pairs = [(subject, purposes[n % 4]) for n in range(1000)]
    response = ask_many(api, pairs)
    assert response.status_code == 200, response.text
    answers = response.json()["decisions"]
    assert [a["purpose"] for a in answers] == [purpose for _, purpose in pairs]
    assert {a["purpose"]: a["reason"] for a in answers} == {
        "newsletter": "consent",
        "testimonials": "no_consent",
        "billing": "legal_basis",
        "teleportation": "undeclared_purpose",
    }
    response = ask_many(api, [*pairs, (subject, "newsletter")])
    messages = assert_invalid(response, "queries")
    assert messages == {"queries": "List should have at most 1000 items after validation, not 1001"}


QUERY = {"subject": UNKNOWN_ID, "purpose": "newsletter"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"queries": [QUERY, {"subject": EMAIL, "purpose": "newsletter"}]}, ["queries[1].subject"]),
        (
            {"queries": [QUERY, {"subject": PHONE, "purpose": 7}]},
            ["queries[1].subject", "queries[1].purpose"],
        ),
        ({"queries": [{"subject": UNKNOWN_ID}]}, ["queries[0].purpose"]),
        ({"queries": [QUERY | {"email": EMAIL}]}, ["queries[0].email"]),
        ({"queries": [QUERY], "subject": UNKNOWN_ID}, ["subject"]),
        ({"queries": QUERY}, ["queries"]),
        ({"queries": []}, ["queries"]),
        ({}, ["queries"]),
        ([QUERY], ["body"]),
    ],
)
def test_a_bad_batch_is_422_naming_the_field(api: ConsentApi, body: Any, fields: list[str]) -> None:
    response = api.post("/decisions", "decide", body)
    assert_invalid(response, *fields)


def test_decisions_write_nothing(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    api.key("decide")
    with api.nothing_written():
        assert api.reason(subject, "newsletter") == "consent"
        assert ask_many(api, [(subject, "newsletter"), (UNKNOWN_ID, "billing")]).status_code == 200
