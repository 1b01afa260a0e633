"""Every reason a decision gives, each reached through /api/v1, and each write changing the answer
at once."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from apikey_support import CREATED, MovingClock
from consent_api_support import NEWSLETTER_EXPIRES, ON_EACH_DATABASE, ConsentApi, ask_many, reasons

from troth.consent import Reason, require_renewal
from troth.declaration import Policy

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")
COOKIE_CHOICE_EXPIRES = CREATED.replace(year=CREATED.year + 1, month=5)  # cookies: P6M


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
