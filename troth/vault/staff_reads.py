"""Need-to-know reads by staff (P22): every read names a purpose, and every read is audited.

A member of staff (through a server holding an API key bound to a staff role, or later the
console) asks for a subject's data *for a purpose*. The declaration's ``staff_roles`` say which
purposes a role may name; the purpose says which categories it uses, narrowed to the role's own
list. Only those items are decrypted and returned. A read outside the role is refused, and the
refusal is audited too, so that an auditor sees attempts as well as reads.

Both outcomes are audit events on the subject: ``subject.data_read`` (role, purpose, the
categories returned, how many items) and ``subject.data_read_refused`` (role, purpose, why).
The staff member is named by an opaque reference the caller passes (an employee number), never
by an address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.audit import Actor, AuditEvent, record_event
from troth.declaration import Policy
from troth.declaration.model import KEY_MAX_LENGTH, KEY_PATTERN
from troth.subjects import Keyring
from troth.subjects.registry import get_subject, merged_ids

from .reading import StoredItem, items_of

READ = "subject.data_read"
REFUSED = "subject.data_read_refused"
MAX_STAFF_REF = 100
_STAFF_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


_PURPOSE = re.compile(KEY_PATTERN)


class StaffReadInputError(ValueError):
    """A read asked for in a form troth refuses before looking: ``field`` names the part, and
    the message never repeats the value (a mistaken caller can put an address anywhere)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StaffRead:
    """What a read returned, or why it was refused (``refusal`` set, ``items`` empty)."""

    subject_id: str
    role: str
    purpose: str
    categories: frozenset[str]
    items: tuple[StoredItem, ...]
    refusal: str | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def check_read_input(purpose: str, staff_ref: str | None) -> None:
    """Refuse a purpose that is not shaped like a declared key, or a staff reference that is not
    an opaque id, before anything is read or written."""
    if len(purpose) > KEY_MAX_LENGTH or not _PURPOSE.fullmatch(purpose):
        raise StaffReadInputError(
            "purpose", "expected the key of a declared purpose, such as 'answer_inquiries'"
        )
    if staff_ref is not None and (
        len(staff_ref) > MAX_STAFF_REF or not _STAFF_REF.fullmatch(staff_ref)
    ):
        raise StaffReadInputError(
            "staff",
            f"expected an opaque staff id such as 'emp-1042' (letters, digits, '.', '_', ':', "
            f"'-'; at most {MAX_STAFF_REF} characters), never a name or an address",
        )


def _refusal(policy: Policy, role: str, purpose: str) -> str | None:
    staff_role = policy.staff_roles.get(role)
    if staff_role is None:
        declared = ", ".join(policy.staff_roles) or "none"
        return (
            f"staff role '{role}' is not declared in policy version {policy.version} "
            f"(declared roles: {declared})"
        )
    if purpose not in policy.purposes:
        return f"'{purpose}' is not a declared purpose"
    if purpose not in staff_role.purposes:
        return (
            f"staff role '{role}' may not read for purpose '{purpose}'; it may read for "
            f"{', '.join(staff_role.purposes)}"
        )
    return None


def read_for_staff(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    *,
    subject_id: str,
    role: str,
    purpose: str,
    actor: Actor,
    now: datetime,
    staff_ref: str | None = None,
) -> StaffRead:
    """The subject's items that ``role`` may read for ``purpose``, with the audit event of the
    read, or of its refusal, in the caller's transaction (the caller commits either way).

    Raises, writing nothing, :class:`~troth.subjects.registry.UnknownSubject` for an unknown
    subject and :class:`StaffReadInputError` for a malformed purpose or staff reference.
    """
    check_read_input(purpose, staff_ref)
    subject = get_subject(session, subject_id)
    details: dict[str, Any] = {"role": role, "purpose": purpose}
    if staff_ref is not None:
        details["staff"] = staff_ref
    refusal = _refusal(policy, role, purpose)
    if refusal is not None:
        record_event(
            session,
            actor=actor,
            action=REFUSED,
            subject_id=subject.id,
            policy_version=policy.version,
            details={**details, "reason": refusal},
            now=now,
        )
        return StaffRead(subject.id, role, purpose, frozenset(), (), refusal)
    readable = policy.readable_categories(role, purpose)
    items = tuple(items_of(session, keyring, subject.id, categories=readable))
    record_event(
        session,
        actor=actor,
        action=READ,
        subject_id=subject.id,
        policy_version=policy.version,
        details={
            **details,
            "categories": sorted({item.category for item in items}),
            "items": len(items),
        },
        now=now,
    )
    return StaffRead(subject.id, role, purpose, readable, items)


@dataclass(frozen=True)
class ReadRecord:
    """One read of a subject's data, or one refused attempt, as the audit trail holds it."""

    seq: int
    occurred_at: datetime
    actor_kind: str
    actor_id: str
    staff: str | None
    role: str
    purpose: str
    categories: tuple[str, ...]
    items: int
    refused: str | None
    policy_version: str | None


def who_read(session: Session, subject_id: str) -> list[ReadRecord]:
    """Every read of the subject's data (and of subjects merged into it), and every refused
    attempt, oldest first, from the audit trail."""
    subject = get_subject(session, subject_id)
    ids = merged_ids(session, subject.id)
    events: Iterable[AuditEvent] = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_id.in_(ids), AuditEvent.action.in_((READ, REFUSED)))
        .order_by(AuditEvent.seq)
    )
    return [
        ReadRecord(
            seq=event.seq,
            occurred_at=event.occurred_at,
            actor_kind=event.actor_kind,
            actor_id=event.actor_id,
            staff=event.details.get("staff"),
            role=str(event.details.get("role", "")),
            purpose=str(event.details.get("purpose", "")),
            categories=tuple(event.details.get("categories", ())),
            items=int(event.details.get("items", 0)),
            refused=event.details.get("reason") if event.action == REFUSED else None,
            policy_version=event.policy_version,
        )
        for event in events
    ]
