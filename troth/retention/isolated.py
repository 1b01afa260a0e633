"""An auditor's read of isolated items (P18): data a retention rule moved out of normal reach.

Isolated items are left out of every other read (staff reads, the access export, items_of). The
auditor role alone reads them, one subject at a time, and every read is on the record: the audit
event ``retention.isolated_read`` names the subject, how many items and which categories, never
a value.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.subjects import Keyring
from troth.subjects.registry import get_subject, merged_ids
from troth.vault import StoredItem, VaultItem, items_of


def read_isolated(
    session: Session,
    keyring: Keyring,
    subject_id: str,
    *,
    actor: Actor,
    now: datetime,
    policy_version: str | None = None,
) -> list[StoredItem]:
    """The subject's isolated items, decrypted, with the audit event in the caller's
    transaction. Raises troth.subjects' UnknownSubject for an unknown id."""
    subject = get_subject(session, subject_id)
    ids = set(
        session.scalars(
            select(VaultItem.id).where(
                VaultItem.subject_id.in_(merged_ids(session, subject.id)),
                VaultItem.isolated_at.is_not(None),
            )
        )
    )
    found = (
        [i for i in items_of(session, keyring, subject.id, include_isolated=True) if i.id in ids]
        if ids
        else []
    )
    record_event(
        session,
        actor=actor,
        action="retention.isolated_read",
        subject_id=subject.id,
        policy_version=policy_version,
        details={"items": len(found), "categories": sorted({i.category for i in found})},
        now=now,
    )
    return found
