"""Crypto-shredding: destroy a subject's data key, so that every copy of their data, backups
included, can no longer be read (DESIGN.md, Security).

The wrapped key is emptied for the subject and every subject merged into it. Their identity
rows go too: the ciphertext would be unreadable anyway, and the keyed index would still say
that an address once belonged to someone. Vault items stay as ciphertext without a key until a
retention sweep removes the rows. A backup taken before the shred still holds the wrapped key,
readable only with the master key it was wrapped under: destroying that key, after a rotation,
makes those copies unreadable too (docs/security.md, "Erasure and backups").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.subjects.models import Identity, Subject
from troth.subjects.registry import get_subject, merged_ids

from .models import VaultItem


@dataclass(frozen=True)
class Shredded:
    subject_id: str
    keys_destroyed: int
    identities_removed: int
    items_unreadable: int


def shred_subject(
    session: Session,
    subject_id: str,
    *,
    now: datetime,
    actor: Actor,
    policy_version: str | None = None,
) -> Shredded:
    """Destroy the data keys of a subject (and of subjects merged into it), with the audit
    event ``subject.shredded``. Shredding an already shredded subject destroys nothing more."""
    subject = get_subject(session, subject_id)
    ids = merged_ids(session, subject.id)
    destroyed = 0
    for row in session.scalars(select(Subject).where(Subject.id.in_(ids))):
        if row.wrapped_key is not None:
            row.wrapped_key = None
            destroyed += 1
    removed = len(session.scalars(select(Identity.id).where(Identity.subject_id.in_(ids))).all())
    session.execute(delete(Identity).where(Identity.subject_id.in_(ids)))
    unreadable = session.scalar(
        select(func.count()).select_from(VaultItem).where(VaultItem.subject_id.in_(ids))
    )
    session.flush()
    record_event(
        session,
        actor=actor,
        action="subject.shredded",
        subject_id=subject.id,
        policy_version=policy_version,
        details={
            "keys_destroyed": destroyed,
            "identities_removed": removed,
            "items_unreadable": unreadable or 0,
        },
        now=now,
    )
    return Shredded(subject.id, destroyed, removed, unreadable or 0)
