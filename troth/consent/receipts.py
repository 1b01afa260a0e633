"""Consent records in the structure of ISO/IEC TS 27560:2023, and receipts.

Each consent event is one record: who (the subject's troth id, never an identity), which
controller, the notice shown (policy version, content hash, language), the purpose with its
lawful basis, the data categories and the jurisdiction, how and where it was collected, and the
event itself (time, state, who acted, expiry). A receipt is the same record for one event,
given to the subject. Field names follow the TS's information elements in snake case; lawful
bases are W3C DPV terms where one exists. See docs/consent.md for the mapping.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from troth.declaration import Policy, read_declaration
from troth.publishing import get_version

from .models import ConsentEvent

SCHEMA_VERSION = "ISO/IEC TS 27560:2023"

DPV_LAWFUL_BASIS = {
    "consent": "dpv:Consent",
    "contract": "dpv:Contract",
    "legal_obligation": "dpv:LegalObligation",
    "legitimate_interest": "dpv:LegitimateInterest",
    "vital_interest": "dpv:VitalInterest",
    "public_task": "dpv:PublicTask",
    # India's DPDP Act, s. 7: no DPV term yet; named after the Act.
    "legitimate_use": "in-dpdp:LegitimateUse",
}
EVENT_TYPE = {
    "given": "consent_given",
    "refused": "consent_refused",
    "withdrawn": "consent_withdrawn",
    "expired": "consent_expired",
}


def _controller(policy: Policy) -> dict[str, Any]:
    org = policy.declaration.organization
    officer = org.privacy_officer
    return {
        "name": org.legal_name or org.name,
        "address": org.address,
        "website": org.website,
        "privacy_contact": officer.email if officer else org.contact.email,
    }


def consent_record(event: ConsentEvent, policy: Policy | None) -> dict[str, Any]:
    """One event as an ISO/IEC TS 27560 consent record.

    ``policy`` is the version the event was recorded under (its purpose names and bases); when
    that version cannot be loaded the record carries the keys alone.
    """
    purpose = policy.purposes.get(event.purpose) if policy else None
    basis = purpose.basis_under(event.jurisdiction) if purpose and event.jurisdiction else None
    if purpose and basis is None:
        basis = purpose.legal_basis
    return {
        "schema_version": SCHEMA_VERSION,
        "record_id": event.record_id,
        "pii_principal_id": event.subject_id,
        "pii_controllers": [_controller(policy)] if policy else [],
        "notice": {
            "notice_id": f"privacy-policy/{event.policy_version}",
            "version": event.policy_version,
            "content_hash": f"sha256:{event.notice_hash}",
            "language": event.language,
        },
        "purposes": [
            {
                "purpose_id": event.purpose,
                "purpose": purpose.name if purpose else None,
                "purpose_type": purpose.data_use if purpose else None,
                "lawful_basis": DPV_LAWFUL_BASIS.get(basis, basis) if basis else None,
                "pii_categories": list(event.categories),
                "jurisdiction": event.jurisdiction,
                "collection_method": event.method,
                "collection_point": event.collection_point,
            }
        ],
        "events": [
            {
                "event_time": event.occurred_at.isoformat(),
                "event_type": EVENT_TYPE[event.state],
                "event_by": event.acted_by,
                "event_by_reference": event.actor_ref,
                "event_state": event.state,
                "validity_until": event.expires_at.isoformat() if event.expires_at else None,
            }
        ],
        "withdrawal_method": "one click in the privacy center, or the API: "
        "POST /api/v1/subjects/{id}/consents/withdraw",
    }


def consent_records(
    events: Iterable[ConsentEvent], policies: dict[str, Policy | None]
) -> list[dict[str, Any]]:
    """Records for many events; ``policies`` maps a version string to that version's policy."""
    return [consent_record(e, policies.get(e.policy_version)) for e in events]


_PARSED: dict[str, Policy | None] = {}


def policy_for_version(session: Session, current: Policy, version: str) -> Policy | None:
    """The policy a consent event was recorded under: ``current`` if it is that version, else
    the stored declaration of that version (None if it is not stored or no longer loads)."""
    if version == current.version:
        return current
    row = get_version(session, version)
    if row is None:
        return None
    if row.content_hash not in _PARSED:
        policy, _problems = read_declaration(row.declaration_yaml, f"policy version {version}")
        if len(_PARSED) > 100:
            _PARSED.clear()
        _PARSED[row.content_hash] = policy
    return _PARSED[row.content_hash]
