"""The parent's answer, through the signed link they were emailed: give consent, or refuse.

Giving consent releases the hold (the items become usable) and records, for each purpose held,
a consent event given by the parent (``acted_by: parent``, method ``email_link``, and as
``actor_ref`` the id of the subject troth keeps for the parent: never their address). Refusing
deletes the held items and records the refusal the same way. A hold is answered once: a link
followed again finds it answered (:class:`AlreadyAnswered`), and a hold the sweep expired
cannot be consented to any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.consent import ActedBy, ConsentInput, ConsentState, Method, record_consents
from troth.declaration import Policy
from troth.notify import verify_link
from troth.subjects import Keyring
from troth.vault.holds import CONSENT_LINK_PURPOSE
from troth.vault.models import ChildHold, VaultItem

from .locking import delete_held_items, held_count, locked_hold


class HoldNotFound(LookupError):
    """The link names a hold that does not exist (any more)."""


class AlreadyAnswered(Exception):
    """The hold was answered already, or expired: ``status`` says which."""

    def __init__(self, status: str) -> None:
        super().__init__(f"this request was already answered ({status})")
        self.status = status


@dataclass(frozen=True)
class ParentalAnswer:
    hold: ChildHold
    items: int


def held_for_link(session: Session, keyring: Keyring, token: str, now: datetime) -> ChildHold:
    """The hold a consent link is for (for the page). Raises the link errors of troth.notify,
    or HoldNotFound."""
    payload = verify_link(keyring, token, CONSENT_LINK_PURPOSE, now)
    hold = session.get(ChildHold, str(payload.get("hold", "")))
    if hold is None:
        raise HoldNotFound(str(payload.get("hold", "")))
    return hold


def _for_answer(session: Session, keyring: Keyring, token: str, now: datetime) -> ChildHold:
    payload = verify_link(keyring, token, CONSENT_LINK_PURPOSE, now)
    hold = locked_hold(session, str(payload.get("hold", "")))
    if hold is None:
        raise HoldNotFound(str(payload.get("hold", "")))
    if hold.status != "held":
        raise AlreadyAnswered(hold.status)
    return hold


def _parent(hold: ChildHold) -> tuple[Actor, str]:
    assert hold.parent_subject_id is not None
    return Actor.subject(hold.parent_subject_id), hold.parent_subject_id


def _ledger(
    session: Session, policy: Policy, hold: ChildHold, state: ConsentState, now: datetime
) -> None:
    actor, parent_id = _parent(hold)
    record_consents(
        session,
        policy,
        [
            (
                hold.subject_id,
                ConsentInput(
                    purpose,
                    state,
                    method=Method.email_link,
                    acted_by=ActedBy.parent,
                    actor_ref=parent_id,
                ),
            )
            for purpose in hold.purposes
        ],
        actor=actor,
        now=now,
    )


def give_consent(
    session: Session, policy: Policy, keyring: Keyring, token: str, *, now: datetime
) -> ParentalAnswer:
    """Release the hold the link is for, and record the parent's consent, with the audit event
    ``child.parental_consent_given``. Raises the link errors, HoldNotFound, AlreadyAnswered."""
    hold = _for_answer(session, keyring, token, now)
    released = held_count(session, hold.id)
    session.execute(update(VaultItem).where(VaultItem.hold_id == hold.id).values(hold_id=None))
    hold.status = "released"
    hold.decided_at = now
    session.flush()
    _ledger(session, policy, hold, ConsentState.given, now)
    _audit(session, policy, hold, "child.parental_consent_given", {"items_released": released},
           now)  # fmt: skip
    return ParentalAnswer(hold, released)


def refuse_consent(
    session: Session, policy: Policy, keyring: Keyring, token: str, *, now: datetime
) -> ParentalAnswer:
    """Delete the held items the link is for, and record the parent's refusal, with the audit
    event ``child.parental_consent_refused``."""
    hold = _for_answer(session, keyring, token, now)
    deleted = delete_held_items(session, hold.id)
    hold.status = "refused"
    hold.decided_at = now
    session.flush()
    _ledger(session, policy, hold, ConsentState.refused, now)
    _audit(session, policy, hold, "child.parental_consent_refused", {"items_deleted": deleted},
           now)  # fmt: skip
    return ParentalAnswer(hold, deleted)


def _audit(
    session: Session,
    policy: Policy,
    hold: ChildHold,
    action: str,
    counts: dict[str, int],
    now: datetime,
) -> None:
    actor, parent_id = _parent(hold)
    record_event(
        session,
        actor=actor,
        action=action,
        subject_id=hold.subject_id,
        policy_version=policy.version,
        details={
            "hold_id": hold.id,
            "purposes": hold.purposes,
            "categories": hold.categories,
            "parent_subject_id": parent_id,
            **counts,
        },
        now=now,
    )
