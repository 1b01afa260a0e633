"""Staff draft a publication (or change a draft); the person is sent a link to review it.

Nothing is published here: a draft is published only when the person approves it
(:mod:`troth.publications.decisions`). Each draft, new or changed, gets its own revision number
and its own review email, in the same transaction as the draft itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.notify import enqueue
from troth.subjects import IdentityKind, Keyring, normalise
from troth.subjects.registry import get_subject

from .content import REVIEW_FOR, PublicationText, long_date, review_link, seal
from .errors import AlreadyDecided
from .locking import locked
from .models import Publication, PublicationKind, PublicationStatus


def draft_publication(
    session: Session,
    keyring: Keyring,
    *,
    subject_id: str,
    kind: PublicationKind | str,
    title: str,
    text: str,
    review_to: str,
    base_url: str,
    organization: str,
    now: datetime,
    actor: Actor,
    policy_version: str | None = None,
) -> Publication:
    """A new draft for ``subject_id`` and its review email to ``review_to``.

    Raises UnknownSubject, IdentityError (``review_to`` is not an address) or ValueError (an
    unknown kind). Writes ``publication.drafted`` and ``mail.queued``.
    """
    parsed = PublicationKind(kind)
    address = normalise(IdentityKind.email, review_to)
    subject = get_subject(session, subject_id)
    item = Publication(
        id=str(uuid.uuid4()),
        subject_id=subject.id,
        kind=parsed.value,
        status=PublicationStatus.draft.value,
        revision=1,
        created_at=now,
        revised_at=now,
    )
    seal(session, keyring, item, PublicationText(title=title, text=text), address)
    session.add(item)
    session.flush()
    _send_review(session, keyring, item, title, address, base_url, organization, now, actor,
                 policy_version)  # fmt: skip
    record_event(
        session,
        actor=actor,
        action="publication.drafted",
        subject_id=item.subject_id,
        policy_version=policy_version,
        details={"publication_id": item.id, "kind": item.kind, "revision": item.revision},
        now=now,
    )
    return item


def revise_draft(
    session: Session,
    keyring: Keyring,
    publication_id: str,
    *,
    title: str,
    text: str,
    review_to: str,
    base_url: str,
    organization: str,
    now: datetime,
    actor: Actor,
    policy_version: str | None = None,
) -> Publication:
    """Change what a publication says: a new revision, unpublished until reviewed again.

    Links sent for earlier revisions no longer approve or reject it. A withdrawn publication
    cannot be revised (AlreadyDecided): the person asked for it to be gone; draft anew if they
    agree to a new one. Writes ``publication.revised`` and ``mail.queued``.
    """
    address = normalise(IdentityKind.email, review_to)
    item = locked(session, publication_id)
    if item.status == PublicationStatus.withdrawn:
        raise AlreadyDecided(item.id, item.status)
    item.revision += 1
    item.status = PublicationStatus.draft.value
    item.revised_at = now
    item.approved_at = item.rejected_at = None
    seal(session, keyring, item, PublicationText(title=title, text=text), address)
    session.flush()
    _send_review(session, keyring, item, title, address, base_url, organization, now, actor,
                 policy_version)  # fmt: skip
    record_event(
        session,
        actor=actor,
        action="publication.revised",
        subject_id=item.subject_id,
        policy_version=policy_version,
        details={"publication_id": item.id, "kind": item.kind, "revision": item.revision},
        now=now,
    )
    return item


def _send_review(
    session: Session,
    keyring: Keyring,
    item: Publication,
    title: str,
    address: str,
    base_url: str,
    organization: str,
    now: datetime,
    actor: Actor,
    policy_version: str | None,
) -> None:
    enqueue(
        session,
        keyring=keyring,
        to=address,
        template="publication_review",
        context={
            "organization": organization,
            "kind_label": PublicationKind(item.kind).label,
            "title": title,
            "review_url": review_link(keyring, base_url, item, now),
            "expires_on": long_date(now + REVIEW_FOR),
        },
        now=now,
        actor=actor,
        subject_id=item.subject_id,
        policy_version=policy_version,
    )
