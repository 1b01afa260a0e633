"""What is published: approved, not withdrawn publications, in the person's approved words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.subjects import Keyring, KeyringError
from troth.subjects.registry import SubjectError

from .content import unseal
from .models import Publication, PublicationStatus


@dataclass(frozen=True)
class PublishedItem:
    id: str
    kind: str
    title: str
    text: str
    approved_at: datetime


def published(session: Session, keyring: Keyring) -> list[PublishedItem]:
    """Every approved publication that was not withdrawn, newest approval first.

    A publication whose subject was erased cannot be read and is left out: erasure unpublishes.
    """
    rows = session.scalars(
        select(Publication)
        .where(Publication.status == PublicationStatus.approved.value)
        .order_by(Publication.approved_at.desc(), Publication.id)
    )
    found: list[PublishedItem] = []
    for row in rows:
        try:
            content = unseal(session, keyring, row)
        except (SubjectError, KeyringError):
            continue
        assert row.approved_at is not None
        found.append(PublishedItem(row.id, row.kind, content.title, content.text, row.approved_at))
    return found
