"""An auditor's read of isolated data (P18): what a retention rule moved out of normal reach.

Isolated vault items are left out of every other read (staff reads, the access export,
items_of); values isolated in a company database were moved out of their rows into
``troth_isolated``, sealed under troth's master key (:mod:`troth.datasets.isolation`). The
auditor role alone reads them, one subject at a time, and every read is on the record: the audit
event ``retention.isolated_read`` names the subject, how many items and rows and which categories
and datasets, never a value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.datasets import Connected, DatasetError, isolation
from troth.datasets.isolation import IsolatedRow
from troth.subjects import Keyring
from troth.subjects.registry import get_subject, merged_ids
from troth.vault import StoredItem, VaultItem, items_of

from .datasets import dataset_identities

log = logging.getLogger(__name__)


@dataclass
class IsolatedRead:
    """A subject's isolated data: vault items, rows of company databases, and the datasets
    that could not be read (named, never their addresses)."""

    items: list[StoredItem] = field(default_factory=list)
    rows: list[IsolatedRow] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def read_isolated(
    session: Session,
    keyring: Keyring,
    subject_id: str,
    *,
    actor: Actor,
    now: datetime,
    policy_version: str | None = None,
    datasets: Connected | None = None,
) -> IsolatedRead:
    """The subject's isolated items and, with ``datasets``, the values isolated from the rows
    their identities reach in each company database, decrypted, with the audit event in the
    caller's transaction. Raises troth.subjects' UnknownSubject for an unknown id."""
    subject = get_subject(session, subject_id)
    ids = set(
        session.scalars(
            select(VaultItem.id).where(
                VaultItem.subject_id.in_(merged_ids(session, subject.id)),
                VaultItem.isolated_at.is_not(None),
            )
        )
    )
    found = IsolatedRead()
    if ids:
        found.items = [
            i for i in items_of(session, keyring, subject.id, include_isolated=True) if i.id in ids
        ]
    if datasets is not None and datasets.keys:
        identities = dataset_identities(session, keyring, subject.id)
        for key in datasets.keys:
            try:
                target = datasets.target(key)
                with target.engine.connect() as conn:
                    keys = target.reachable_keys(conn, identities)
                    found.rows += isolation.read(
                        conn, target.dataset, keys, open_=keyring.open_isolated
                    )
            except (SQLAlchemyError, DatasetError) as exc:
                log.warning("isolated read: dataset %s failed: %s", key, type(exc).__name__)
                found.unreadable.append(key)
    record_event(
        session,
        actor=actor,
        action="retention.isolated_read",
        subject_id=subject.id,
        policy_version=policy_version,
        details={
            "items": len(found.items),
            "categories": sorted({i.category for i in found.items}),
            "dataset_rows": len(found.rows),
            "datasets": sorted({r.dataset for r in found.rows}),
        },
        now=now,
    )
    return found
