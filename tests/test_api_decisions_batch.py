"""POST /decisions: many subjects and purposes asked at once, answered in order, each as the single
GET would answer it."""

from __future__ import annotations

from typing import Any

import pytest
from consent_api_support import (
    EMAIL,
    OTHER_EMAIL,
    PHONE,
    UNKNOWN_ID,
    ConsentApi,
    ask_many,
    assert_invalid,
)

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


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
