"""The person's decisions, through the signed links they were sent: approve, reject, withdraw.

Each decision is idempotent: approving an approved draft, rejecting a rejected one or
withdrawing a withdrawn publication changes nothing and records nothing, so a link followed twice
(or a form sent twice) is harmless. The other decision on a decided draft is refused
(AlreadyDecided): an approval is undone by withdrawing, a rejection by a new draft. Decisions are
audited with the subject as the actor; a withdrawal staff make on the person's request names the
staff's API key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.notify import enqueue, verify_link
from troth.subjects import Keyring

from .content import (
    REVIEW_PURPOSE,
    WITHDRAW_FOR,
    WITHDRAW_PURPOSE,
    PublicationText,
    long_date,
    review_address,
    unseal,
    withdraw_link,
)
from .errors import AlreadyDecided, StaleReview, UnknownPublication
from .locking import locked
from .models import Publication, PublicationKind, PublicationStatus


@dataclass(frozen=True)
class Decision:
    """A publication after a decision, and whether this call changed it."""

    item: Publication
    changed: bool


def reviewed_item(
    session: Session, keyring: Keyring, token: str, now: datetime
) -> tuple[Publication, PublicationText]:
    """The draft a review link is for, and what it says (for the review page).

    Raises the link errors of troth.notify, UnknownPublication, or StaleReview when the draft
    changed after the link was sent.
    """
    payload = verify_link(keyring, token, REVIEW_PURPOSE, now)
    item = _get(session, payload)
    if item.revision != payload.get("revision"):
        raise StaleReview(item.id)
    return item, unseal(session, keyring, item)


def withdrawable_item(
    session: Session, keyring: Keyring, token: str, now: datetime
) -> tuple[Publication, PublicationText]:
    """The publication a withdraw link is for, and what it says (for the withdraw page)."""
    item = _get(session, verify_link(keyring, token, WITHDRAW_PURPOSE, now))
    return item, unseal(session, keyring, item)


def approve(
    session: Session,
    keyring: Keyring,
    token: str,
    *,
    base_url: str,
    organization: str,
    now: datetime,
    policy_version: str | None = None,
) -> Decision:
    """Publish the draft the review link is for, and email the person a withdraw link."""
    item = _for_review(session, keyring, token, now)
    if item.status == PublicationStatus.approved:
        return Decision(item, changed=False)
    if item.status != PublicationStatus.draft:
        raise AlreadyDecided(item.id, item.status)
    item.status = PublicationStatus.approved.value
    item.approved_at = now
    session.flush()
    actor = Actor.subject(item.subject_id)
    enqueue(
        session,
        keyring=keyring,
        to=review_address(session, keyring, item),
        template="publication_approved",
        context={
            "organization": organization,
            "kind_label": PublicationKind(item.kind).label,
            "title": unseal(session, keyring, item).title,
            "withdraw_url": withdraw_link(keyring, base_url, item, now),
            "expires_on": long_date(now + WITHDRAW_FOR),
        },
        now=now,
        actor=actor,
        subject_id=item.subject_id,
        policy_version=policy_version,
    )
    _audit(session, item, "publication.approved", actor, now, policy_version)
    return Decision(item, changed=True)


def reject(
    session: Session,
    keyring: Keyring,
    token: str,
    *,
    now: datetime,
    policy_version: str | None = None,
) -> Decision:
    """Record that the person does not want the draft published."""
    item = _for_review(session, keyring, token, now)
    if item.status == PublicationStatus.rejected:
        return Decision(item, changed=False)
    if item.status != PublicationStatus.draft:
        raise AlreadyDecided(item.id, item.status)
    item.status = PublicationStatus.rejected.value
    item.rejected_at = now
    session.flush()
    _audit(session, item, "publication.rejected", Actor.subject(item.subject_id), now,
           policy_version)  # fmt: skip
    return Decision(item, changed=True)


def withdraw_by_link(
    session: Session,
    keyring: Keyring,
    token: str,
    *,
    now: datetime,
    policy_version: str | None = None,
) -> Decision:
    """Withdraw the publication a withdraw link is for, at the person's own hand."""
    payload = verify_link(keyring, token, WITHDRAW_PURPOSE, now)
    item = locked(session, str(payload.get("publication", "")))
    return _withdraw(session, item, Actor.subject(item.subject_id), now, policy_version)


def withdraw(
    session: Session,
    publication_id: str,
    *,
    actor: Actor,
    now: datetime,
    policy_version: str | None = None,
) -> Decision:
    """Withdraw a publication on the person's request (staff acting for them)."""
    item = locked(session, publication_id)
    return _withdraw(session, item, actor, now, policy_version)


def _withdraw(
    session: Session, item: Publication, actor: Actor, now: datetime, policy_version: str | None
) -> Decision:
    # From any state: a draft withdrawn before review is never to be published either.
    if item.status == PublicationStatus.withdrawn:
        return Decision(item, changed=False)
    item.status = PublicationStatus.withdrawn.value
    item.withdrawn_at = now
    session.flush()
    _audit(session, item, "publication.withdrawn", actor, now, policy_version)
    return Decision(item, changed=True)


def _get(session: Session, payload: dict[str, Any]) -> Publication:
    publication_id = str(payload.get("publication", ""))
    item = session.get(Publication, publication_id)
    if item is None:
        raise UnknownPublication(publication_id)
    return item


def _for_review(session: Session, keyring: Keyring, token: str, now: datetime) -> Publication:
    payload = verify_link(keyring, token, REVIEW_PURPOSE, now)
    item = locked(session, str(payload.get("publication", "")))
    if item.revision != payload.get("revision"):
        raise StaleReview(item.id)
    return item


def _audit(
    session: Session,
    item: Publication,
    action: str,
    actor: Actor,
    now: datetime,
    policy_version: str | None,
) -> None:
    record_event(
        session,
        actor=actor,
        action=action,
        subject_id=item.subject_id,
        policy_version=policy_version,
        details={"publication_id": item.id, "kind": item.kind, "revision": item.revision},
        now=now,
    )
