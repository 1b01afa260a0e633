"""Reading consent over /api/v1: a subject's current state and history, one record by its id, and
both as ISO/IEC TS 27560 records."""

from __future__ import annotations

from datetime import timedelta

import pytest
from apikey_support import CREATED, MovingClock
from consent_api_support import (
    GIVEN,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
    given_subject,
)

from troth.declaration import Policy

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


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
