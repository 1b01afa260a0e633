"""ISO/IEC TS 27560 consent records: every element, DPV lawful bases, no identity values."""

from __future__ import annotations

import json

import pytest
from consent_support import NOW, give, new_subject
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from troth.consent import ConsentEvent, consent_record, consent_records, history
from troth.consent.receipts import DPV_LAWFUL_BASIS, SCHEMA_VERSION
from troth.declaration import Policy
from troth.store import make_sessionmaker
from troth.subjects import Keyring

EMAIL = "arjun.patil@example.co.in"


@pytest.fixture
def events(ledger_engine: Engine, keyring: Keyring, kestrel_policy: Policy) -> list[ConsentEvent]:
    sessions = make_sessionmaker(ledger_engine)
    with sessions.begin() as session:
        subject = new_subject(session, keyring, EMAIL)
        give(
            session,
            kestrel_policy,
            subject,
            "newsletter",
            method="web_form",
            acted_by="nominee",
            actor_ref="nominee-482",
            categories=["user.contact.email"],
            jurisdiction="eu-gdpr",
            language="hi-IN",
            collection_point="https://kestrel.example/newsletter",
        )
        give(
            session,
            kestrel_policy,
            subject,
            "answer_inquiries",
            "withdrawn",
            jurisdiction="eu-gdpr",
        )
        give(session, kestrel_policy, subject, "answer_inquiries", "given", jurisdiction="in-dpdp")
        give(session, kestrel_policy, subject, "billing", "refused")
    with Session(ledger_engine) as session:
        return history(session, subject)


def test_a_record_has_every_element(events: list[ConsentEvent], kestrel_policy: Policy) -> None:
    event = events[0]
    record = consent_record(event, kestrel_policy)
    assert record == {
        "schema_version": SCHEMA_VERSION,
        "record_id": event.record_id,
        "pii_principal_id": event.subject_id,
        "pii_controllers": [
            {
                "name": "Kestrel Software Private Limited",
                "address": "4th Floor, Riverside Tech Park, Baner Road, Pune 411045, India",
                "website": "https://kestrel.example",
                "privacy_contact": "privacy@kestrel.example",
            }
        ],
        "notice": {
            "notice_id": "privacy-policy/3.0",
            "version": "3.0",
            "content_hash": f"sha256:{kestrel_policy.content_hash}",
            "language": "hi-IN",
        },
        "purposes": [
            {
                "purpose_id": "newsletter",
                "purpose": "Send news about our services, events and offers",
                "purpose_type": "marketing.communications.email",
                "lawful_basis": "dpv:Consent",
                "pii_categories": ["user.contact.email"],
                "jurisdiction": "eu-gdpr",
                "collection_method": "web_form",
                "collection_point": "https://kestrel.example/newsletter",
            }
        ],
        "events": [
            {
                "event_time": NOW.isoformat(),
                "event_type": "consent_given",
                "event_by": "nominee",
                "event_by_reference": "nominee-482",
                "event_state": "given",
                "validity_until": NOW.replace(year=NOW.year + 2).isoformat(),
            }
        ],
        "withdrawal_method": record["withdrawal_method"],
    }
    assert "withdraw" in record["withdrawal_method"]
    json.dumps(record)  # plain JSON data


def test_lawful_bases_are_dpv_terms_under_the_events_jurisdiction(
    events: list[ConsentEvent], kestrel_policy: Policy
) -> None:
    records = consent_records(events, {"3.0": kestrel_policy})
    assert [
        (
            r["purposes"][0]["purpose_id"],
            r["purposes"][0]["lawful_basis"],
            r["events"][0]["event_type"],
        )
        for r in records
    ] == [
        ("newsletter", "dpv:Consent", "consent_given"),
        ("answer_inquiries", "dpv:LegitimateInterest", "consent_withdrawn"),
        ("answer_inquiries", "in-dpdp:LegitimateUse", "consent_given"),
        ("billing", "dpv:LegalObligation", "consent_refused"),
    ]
    assert all(r["events"][0]["validity_until"] is None for r in records[1:])
    assert set(DPV_LAWFUL_BASIS) == {
        "consent",
        "contract",
        "legal_obligation",
        "legitimate_interest",
        "legitimate_use",
        "vital_interest",
        "public_task",
    }


def test_a_record_names_the_notice_the_event_was_recorded_under(
    ledger_engine: Engine, keyring: Keyring, kestrel_history: list[Policy], kestrel_policy: Policy
) -> None:
    v2 = kestrel_history[1]
    with make_sessionmaker(ledger_engine).begin() as session:
        subject = new_subject(session, keyring)
        give(session, v2, subject, "newsletter")
        give(session, kestrel_policy, subject, "email_engagement")
    with Session(ledger_engine) as session:
        events = history(session, subject)
    policies: dict[str, Policy | None] = {"2.0": v2, "3.0": kestrel_policy}
    notices = [r["notice"] for r in consent_records(events, policies)]
    assert [(n["version"], n["content_hash"]) for n in notices] == [
        ("2.0", f"sha256:{v2.content_hash}"),
        ("3.0", f"sha256:{kestrel_policy.content_hash}"),
    ]
    assert v2.content_hash != kestrel_policy.content_hash
    # A version that no longer loads: the record keeps the keys and the notice it was under.
    bare = consent_records(events, {"3.0": kestrel_policy})[0]
    assert bare["pii_controllers"] == []
    assert bare["notice"]["content_hash"] == f"sha256:{v2.content_hash}"
    assert bare["purposes"][0]["purpose_id"] == "newsletter"
    assert bare["purposes"][0]["purpose"] is None
    assert bare["purposes"][0]["lawful_basis"] is None


def test_a_record_holds_no_identity_value(
    events: list[ConsentEvent], kestrel_policy: Policy
) -> None:
    text = json.dumps(consent_records(events, {"3.0": kestrel_policy})).lower()
    assert EMAIL not in text
    assert "arjun" not in text
    assert events[0].subject_id in text
