"""A subject found to be a child whose data was collected without a parent's consent (P29).

What happens to their data is the declaration's ``children.on_found_without_consent``:

- ``delete``: every usable item of the subject (and of subjects merged into it) is deleted;
- ``isolate``: those items are tied to a hold with the status ``isolated``: kept, encrypted,
  but no read returns them and nothing may use them. No link releases them: they leave only by
  deletion (the subject's erasure, or the retention sweep when their deadline comes).

Items of a purpose a parent has consented to are the parent's choice and stay; items already
held for a parent's answer stay held (the answer, or the consent window, decides them). The
``child`` signal is raised, so that every decision for the subject answers
``child_without_parental_consent`` until a parent consents. When ``children.notify_parent`` is
set and an address is known (given with the call, or the parent of an earlier hold), the parent
is emailed what was done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.consent import ActedBy, load_state
from troth.declaration import Policy
from troth.notify import enqueue
from troth.subjects import IdentityError, IdentityKind, Keyring, normalise
from troth.subjects.registry import SubjectError, get_subject, identities_of, merged_ids
from troth.vault.holds import category_names, parent_subject, raise_child_signal
from troth.vault.models import ChildHold, VaultItem

NOTICE_TEMPLATE = "child_data_removed"


class ChildFoundError(ValueError):
    """The call cannot be made as asked; ``field`` names the part (never its value)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ChildFound:
    subject_id: str
    action: str  # "delete" or "isolate"
    items: int
    categories: list[str]
    parent_notified: bool
    hold_id: str | None = None


def record_child_found(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    subject_id: str,
    *,
    parent_email: str | None,
    now: datetime,
    actor: Actor,
) -> ChildFound:
    """Record that ``subject_id`` is a child without a parent's consent, in the caller's
    transaction: the signal, the deletion (or isolation) of their data, the parent's email, and
    the audit event ``child.found_without_consent``.

    Raises ChildFoundError (no ``children`` section; a malformed ``parent_email``) and
    UnknownSubject, writing nothing.
    """
    children = policy.declaration.children
    if children is None:
        raise ChildFoundError(
            "declaration", "declares no children section, so there is no rule for children"
        )
    address = None
    if parent_email is not None:
        try:
            address = normalise(IdentityKind.email, parent_email)
        except IdentityError as exc:
            raise ChildFoundError("parent_email", exc.reason) from None
    subject = get_subject(session, subject_id)
    ids = merged_ids(session, subject.id)
    state = load_state(session, subject.id, now)
    consented = {
        purpose
        for purpose, consent in state.consents.items()
        if consent.active and consent.acted_by == ActedBy.parent
    }
    usable = select(VaultItem).where(VaultItem.subject_id.in_(ids), VaultItem.hold_id.is_(None))
    if consented:
        usable = usable.where(VaultItem.purpose.not_in(sorted(consented)))
    found = list(session.scalars(usable))
    categories = sorted({item.category for item in found})
    purposes = sorted({item.purpose for item in found})
    found_ids = [item.id for item in found]
    raise_child_signal(session, policy, subject.id, actor=actor, now=now)
    parent_id = (
        parent_subject(session, keyring, policy, address, now=now, actor=actor)
        if address is not None
        else _earlier_parent(session, subject.id)
    )
    hold_id = None
    action = children.on_found_without_consent
    if found_ids and action == "isolate":
        hold = ChildHold(
            id=str(uuid.uuid4()),
            subject_id=subject.id,
            submission_id=None,
            purposes=purposes,
            categories=categories,
            parent_subject_id=parent_id,
            status="isolated",
            held_at=now,
            window_ends=None,
            decided_at=now,
            policy_version=policy.version,
        )
        session.add(hold)
        session.flush()
        hold_id = hold.id
        session.execute(
            update(VaultItem).where(VaultItem.id.in_(found_ids)).values(hold_id=hold_id)
        )
    elif found_ids:
        session.execute(delete(VaultItem).where(VaultItem.id.in_(found_ids)))
    notified = False
    if children.notify_parent and parent_id is not None:
        to = address or _address_of(session, keyring, parent_id)
        if to is not None:
            enqueue(
                session,
                keyring=keyring,
                to=to,
                template=NOTICE_TEMPLATE,
                context={
                    "organization": policy.organization_name,
                    "action": action,
                    "action_past": "isolated" if action == "isolate" else "deleted",
                    "categories": category_names(policy, categories),
                },
                now=now,
                actor=actor,
                subject_id=parent_id,
                policy_version=policy.version,
            )
            notified = True
    session.flush()
    record_event(
        session,
        actor=actor,
        action="child.found_without_consent",
        subject_id=subject.id,
        policy_version=policy.version,
        details={
            "action": action,
            "items": len(found_ids),
            "categories": categories,
            "purposes": purposes,
            "kept_for_parent_consent": sorted(consented),
            "hold_id": hold_id,
            "parent_subject_id": parent_id,
            "parent_notified": notified,
        },
        now=now,
    )
    return ChildFound(subject.id, action, len(found_ids), categories, notified, hold_id)


def _earlier_parent(session: Session, subject_id: str) -> str | None:
    """The parent named by the subject's latest hold, if any."""
    return session.scalar(
        select(ChildHold.parent_subject_id)
        .where(ChildHold.subject_id == subject_id, ChildHold.parent_subject_id.is_not(None))
        .order_by(ChildHold.held_at.desc())
        .limit(1)
    )


def _address_of(session: Session, keyring: Keyring, parent_id: str) -> str | None:
    try:
        identities = identities_of(session, keyring, parent_id)
    except SubjectError:  # an erased parent has no readable address: nobody to tell
        return None
    return next((i.value for i in identities if i.kind is IdentityKind.email), None)
