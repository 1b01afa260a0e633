"""Need-to-know reads (P22): a read names a purpose, returns only what the role may read for it,
is refused outside the role, and every read and refusal is in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from consent_support import NOW
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from vault_support import COMPANY, EMAIL, MESSAGE, NAME, PERSONAL, PHONE, submit

from troth.audit import Actor, AuditEvent, verify_chain
from troth.declaration import Policy
from troth.subjects import Keyring
from troth.subjects.registry import UnknownSubject
from troth.vault import StaffReadInputError, read_for_staff, who_read

SALES_KEY = Actor.api_key("salescrmkey1")


def _collected(sessions: sessionmaker[Session], policy: Policy, keyring: Keyring) -> str:
    with sessions.begin() as session:
        return submit(session, policy, keyring).subject_id


def _read(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    subject_id: str,
    role: str,
    purpose: str,
    **extra: object,
):
    with sessions.begin() as session:
        return read_for_staff(
            session,
            policy,
            keyring,
            subject_id=subject_id,
            role=role,
            purpose=purpose,
            actor=SALES_KEY,
            now=NOW + timedelta(hours=1),
            **extra,  # type: ignore[arg-type]
        )


def _events(sessions: sessionmaker[Session]) -> list[AuditEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.like("subject.data_read%"))
                .order_by(AuditEvent.seq)
            )
        )


def test_sales_reads_the_contact_details_of_an_enquiry_and_not_its_text(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    subject_id = _collected(sessions, kestrel_policy, keyring)
    read = _read(
        sessions, kestrel_policy, keyring, subject_id, "sales", "answer_inquiries", staff_ref="e-7"
    )
    assert read.allowed
    values = {item.category: item.value for item in read.items}
    assert values == {
        "user.name": NAME,
        "user.contact.email": EMAIL,
        "user.contact.phone_number": PHONE,
        "user.contact.organization": COMPANY,
    }
    assert MESSAGE not in values.values()  # the enquiry's text is outside the sales role
    [event] = _events(sessions)
    assert (event.action, event.subject_id, event.actor_id) == (
        "subject.data_read",
        subject_id,
        "salescrmkey1",
    )
    assert event.details == {
        "role": "sales",
        "purpose": "answer_inquiries",
        "staff": "e-7",
        "categories": sorted(values),
        "items": 4,
    }
    assert event.policy_version == kestrel_policy.version


def test_a_role_without_its_own_list_reads_every_category_of_the_purpose(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    subject_id = _collected(sessions, kestrel_policy, keyring)
    read = _read(sessions, kestrel_policy, keyring, subject_id, "privacy_team", "answer_inquiries")
    assert {item.value for item in read.items} == {NAME, EMAIL, PHONE, COMPANY, MESSAGE}


@pytest.mark.parametrize(
    ("role", "purpose", "reason"),
    [
        ("sales", "billing", "staff role 'sales' may not read for purpose 'billing'"),
        ("finance", "answer_inquiries", "may not read for purpose 'answer_inquiries'"),
        ("interns", "answer_inquiries", "staff role 'interns' is not declared"),
        ("sales", "cold_calling", "'cold_calling' is not a declared purpose"),
    ],
)
def test_a_read_outside_the_role_is_refused_returns_nothing_and_is_audited(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    role: str,
    purpose: str,
    reason: str,
) -> None:
    subject_id = _collected(sessions, kestrel_policy, keyring)
    read = _read(sessions, kestrel_policy, keyring, subject_id, role, purpose)
    assert not read.allowed
    assert read.items == ()
    assert read.refusal is not None and reason in read.refusal
    [event] = _events(sessions)
    assert event.action == "subject.data_read_refused"
    assert event.details["role"] == role and event.details["purpose"] == purpose
    assert reason in event.details["reason"]


def test_a_read_of_a_purpose_that_holds_nothing_for_the_subject_returns_nothing(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    subject_id = _collected(sessions, kestrel_policy, keyring)
    read = _read(sessions, kestrel_policy, keyring, subject_id, "finance", "billing")
    # Finance may read billing data, but a contact form holds no billing data: it gets the
    # overlap only (name, email, organisation are billing categories too).
    assert {item.category for item in read.items} == {
        "user.name",
        "user.contact.email",
        "user.contact.organization",
    }


@pytest.mark.parametrize(
    ("field", "purpose", "staff_ref"),
    [
        ("purpose", "someone@example.com", None),
        ("purpose", "Answer Inquiries", None),
        ("staff", "answer_inquiries", "meera@example.in"),
        ("staff", "answer_inquiries", "Meera K"),
        ("staff", "answer_inquiries", "x" * 101),
    ],
)
def test_malformed_input_is_refused_by_field_and_nothing_is_written(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    field: str,
    purpose: str,
    staff_ref: str | None,
) -> None:
    subject_id = _collected(sessions, kestrel_policy, keyring)
    with pytest.raises(StaffReadInputError) as caught:
        _read(sessions, kestrel_policy, keyring, subject_id, "sales", purpose, staff_ref=staff_ref)
    assert caught.value.field == field
    assert purpose not in str(caught.value) and (staff_ref or "@") not in str(caught.value)
    assert _events(sessions) == []


def test_an_unknown_subject_is_an_error_and_writes_nothing(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with pytest.raises(UnknownSubject):
        _read(
            sessions,
            kestrel_policy,
            keyring,
            "00000000-0000-4000-8000-000000000000",
            "sales",
            "answer_inquiries",
        )
    assert _events(sessions) == []


def test_who_read_lists_reads_and_refusals_in_order_with_no_personal_data(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    subject_id = _collected(sessions, kestrel_policy, keyring)
    other = _collected_other(sessions, kestrel_policy, keyring)
    _read(sessions, kestrel_policy, keyring, subject_id, "sales", "answer_inquiries", staff_ref="a")
    _read(sessions, kestrel_policy, keyring, other, "sales", "answer_inquiries")
    _read(sessions, kestrel_policy, keyring, subject_id, "sales", "billing", staff_ref="b")
    with sessions() as session:
        reads = who_read(session, subject_id)
        assert verify_chain(session).ok
    assert [(r.staff, r.purpose, r.refused is None) for r in reads] == [
        ("a", "answer_inquiries", True),
        ("b", "billing", False),
    ]
    assert reads[0].items == 4 and "user.contact.email" in reads[0].categories
    assert reads[0].actor_kind == "api_key" and reads[0].actor_id == "salescrmkey1"
    shown = repr(reads)
    for value in PERSONAL:
        assert value not in shown


def _collected_other(sessions: sessionmaker[Session], policy: Policy, keyring: Keyring) -> str:
    with sessions.begin() as session:
        collected = submit(session, policy, keyring, identity=("email", "someone.else@example.org"))
        return collected.subject_id
