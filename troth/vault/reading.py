"""A subject's collected data, decrypted: for the subject's own access request, or a staff
read that names its purpose (the callers audit the read)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.subjects import DataKey, Keyring, decrypt
from troth.subjects.models import Subject
from troth.subjects.registry import ShreddedSubject, get_subject, merged_ids

from .collect import item_associated_data
from .models import VaultItem


@dataclass(frozen=True)
class StoredItem:
    id: int
    submission_id: str
    category: str
    value: str
    source: str
    purpose: str
    collection_point: str | None
    collected_at: datetime
    retention_rule: str
    retain_until: datetime | None
    waiting_for: str | None
    # set when a retention rule isolated the item (archived, out of every staff read)
    isolated_at: datetime | None = None


def items_of(
    session: Session,
    keyring: Keyring,
    subject_id: str,
    *,
    categories: Collection[str] | None = None,
    include_held: bool = False,
    include_isolated: bool = False,
) -> list[StoredItem]:
    """Every item held for a subject (and the subjects merged into it), oldest first; only
    those of ``categories`` when given (the others are not even decrypted).

    Items a hold keeps unusable (a child's data awaiting a parent's consent, or isolated) are
    left out unless ``include_held``: that is for the subject's own access or erasure, never
    for use. Items a retention sweep isolated (``isolated_at``) are left out unless
    ``include_isolated``: that is only for an auditor's read and the subject's own access
    export (docs/retention.md).

    Raises :class:`~troth.subjects.registry.ShreddedSubject` when a key needed is destroyed,
    and :class:`~troth.subjects.TamperedError` when a value was altered.
    """
    subject = get_subject(session, subject_id)
    ids = merged_ids(session, subject.id)
    keys: dict[str, DataKey] = {}
    for row in session.scalars(select(Subject).where(Subject.id.in_(ids))):
        if row.wrapped_key is not None:
            keys[row.id] = keyring.unwrap(row.wrapped_key)
    query = select(VaultItem).where(VaultItem.subject_id.in_(ids))
    if not include_held:
        query = query.where(VaultItem.hold_id.is_(None))
    if not include_isolated:
        query = query.where(VaultItem.isolated_at.is_(None))
    if categories is not None:
        query = query.where(VaultItem.category.in_(sorted(categories)))
    items = session.scalars(query.order_by(VaultItem.collected_at, VaultItem.id))
    found: list[StoredItem] = []
    for item in items:
        key = keys.get(item.subject_id)
        if key is None:
            raise ShreddedSubject(item.subject_id)
        plain = decrypt(
            key,
            item.ciphertext,
            item_associated_data(item.subject_id, item.submission_id, item.position, item.category),
        )
        found.append(
            StoredItem(
                id=item.id,
                submission_id=item.submission_id,
                category=item.category,
                value=plain.decode("utf-8"),
                source=item.source,
                purpose=item.purpose,
                collection_point=item.collection_point,
                collected_at=item.collected_at,
                retention_rule=item.retention_rule,
                retain_until=item.retain_until,
                waiting_for=item.waiting_for,
                isolated_at=item.isolated_at,
            )
        )
    return found
