"""GET /decisions: "may I?" for one subject and purpose, what the answer rests on, and a query
refused before it is asked."""

from __future__ import annotations

import pytest
from consent_api_support import (
    EMAIL,
    NEWSLETTER_EXPIRES,
    UNKNOWN_ID,
    ConsentApi,
    assert_invalid,
    reasons,
)

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


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
