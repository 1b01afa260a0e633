"""Subjects and their identities in the database: find, create, link and merge.

An identity is found through its keyed HMAC (``Identity.lookup``); its value is stored only
encrypted under the subject's own data key. Linking an identity that already belongs to another
subject (an anonymous browser that signs up, say) merges that subject into this one: its
identities move over and its history is read as this subject's from then on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event

from .identities import IdentityKind, normalise
from .keys import DataKey, Keyring, decrypt, encrypt, new_data_key
from .models import Identity, Subject

# A merge chain longer than this is a loop written by hand into the database, not by troth.
MAX_MERGE_DEPTH = 32


class SubjectError(Exception):
    """A subject operation that cannot be done as asked; the message holds no personal data."""


class UnknownSubject(SubjectError):
    def __init__(self, subject_id: str) -> None:
        super().__init__(f"no subject with id {subject_id!r}")
        self.subject_id = subject_id


class ShreddedSubject(SubjectError):
    def __init__(self, subject_id: str) -> None:
        super().__init__(f"subject {subject_id!r} was erased: its data key no longer exists")
        self.subject_id = subject_id


@dataclass(frozen=True)
class IdentityValue:
    kind: IdentityKind
    value: str


def new_subject_id() -> str:
    return str(uuid.uuid4())


def _associated_data(kind: str, subject_id: str) -> bytes:
    # Binds a ciphertext to its row: an identity copied onto another subject does not decrypt.
    return f"troth.identity\x00{kind}\x00{subject_id}".encode()


def create_subject(session: Session, keyring: Keyring, now: datetime) -> Subject:
    """A new subject with a fresh data key; the caller records the audit event for its cause."""
    subject = Subject(id=new_subject_id(), created_at=now, wrapped_key=keyring.wrap(new_data_key()))
    session.add(subject)
    return subject


def data_key(keyring: Keyring, subject: Subject) -> DataKey:
    if subject.wrapped_key is None:
        raise ShreddedSubject(subject.id)
    return keyring.unwrap(subject.wrapped_key)


def get_subject(session: Session, subject_id: str) -> Subject:
    """The subject with this id, following merges to the subject it now belongs to."""
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise UnknownSubject(subject_id)
    for _ in range(MAX_MERGE_DEPTH):
        if subject.merged_into is None:
            return subject
        target = session.get(Subject, subject.merged_into)
        if target is None:
            raise UnknownSubject(subject.merged_into)
        subject = target
    raise SubjectError(f"subject {subject_id!r}: merge chain longer than {MAX_MERGE_DEPTH}")


def canonical_ids(session: Session, subject_ids: Iterable[str]) -> dict[str, str]:
    """Each id mapped to the subject it now belongs to (itself unless merged), in one query for
    the common case. Raises :class:`UnknownSubject` for the first id that does not exist."""
    wanted = list(dict.fromkeys(subject_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in session.execute(
            select(Subject.id, Subject.merged_into).where(Subject.id.in_(chunk))
        ):
            found[row.id] = row.id if row.merged_into is None else get_subject(session, row.id).id
    for subject_id in wanted:
        if subject_id not in found:
            raise UnknownSubject(subject_id)
    return found


def merged_ids(session: Session, subject_id: str) -> list[str]:
    """``subject_id`` and every subject merged into it, directly or through others."""
    found = [subject_id]
    frontier = [subject_id]
    while frontier and len(found) < 10_000:
        rows = session.scalars(select(Subject.id).where(Subject.merged_into.in_(frontier))).all()
        frontier = [row for row in rows if row not in found]
        found.extend(frontier)
    return found


def find_subject(session: Session, keyring: Keyring, kind: str, value: str) -> Subject | None:
    """The subject an identity belongs to, or None. Raises IdentityError for a malformed one."""
    canonical = normalise(kind, value)
    lookups = keyring.indexes(kind, canonical)
    row = session.scalar(select(Identity).where(Identity.lookup.in_(lookups)).limit(1))
    return None if row is None else get_subject(session, row.subject_id)


def add_identity(
    session: Session, keyring: Keyring, subject: Subject, kind: str, canonical: str, now: datetime
) -> Identity:
    kind = IdentityKind(kind)
    row = Identity(
        subject_id=subject.id,
        kind=kind.value,
        lookup=keyring.index(kind, canonical),
        ciphertext=encrypt(
            data_key(keyring, subject), canonical.encode(), _associated_data(kind, subject.id)
        ),
        created_at=now,
    )
    session.add(row)
    return row


def resolve_subject(
    session: Session,
    keyring: Keyring,
    kind: str,
    value: str,
    *,
    now: datetime,
    actor: Actor,
    policy_version: str | None = None,
) -> tuple[Subject, bool]:
    """The subject an identity belongs to, created (with the identity) if there is none.

    Returns ``(subject, created)``. A new subject writes the audit event ``subject.created``.
    """
    canonical = normalise(kind, value)
    existing = find_subject(session, keyring, kind, canonical)
    if existing is not None:
        return existing, False
    try:
        # A savepoint: if another transaction created a subject with this identity meanwhile
        # (two first requests from one browser), only this one is undone, and theirs is found.
        with session.begin_nested():
            subject = create_subject(session, keyring, now)
            session.flush()
            add_identity(session, keyring, subject, kind, canonical, now)
            session.flush()
    except IntegrityError:
        # Another transaction gave the identity a subject since the lookup above (the same
        # sign-up sent twice at once): that one is the subject. On SQLite, where writers take
        # turns, this does not happen; on PostgreSQL the insert waits for the other to commit.
        existing = find_subject(session, keyring, kind, canonical)
        if existing is None:
            raise
        return existing, False
    record_event(
        session,
        actor=actor,
        action="subject.created",
        subject_id=subject.id,
        policy_version=policy_version,
        details={"identity_kind": IdentityKind(kind).value},
        now=now,
    )
    return subject, True


def link_identity(
    session: Session,
    keyring: Keyring,
    subject_id: str,
    kind: str,
    value: str,
    *,
    now: datetime,
    actor: Actor,
    policy_version: str | None = None,
) -> tuple[Subject, list[str]]:
    """Attach an identity to a subject; if it belongs to another subject, merge that one in.

    Returns the subject and the ids of the subjects merged into it (empty when the identity was
    new or already this subject's). Writes ``subject.identity_linked`` or ``subject.merged``.
    """
    canonical = normalise(kind, value)
    subject = get_subject(session, subject_id)
    owner = find_subject(session, keyring, kind, canonical)
    if owner is not None and owner.id == subject.id:
        return subject, []
    if owner is None:
        add_identity(session, keyring, subject, kind, canonical, now)
        session.flush()
        record_event(
            session,
            actor=actor,
            action="subject.identity_linked",
            subject_id=subject.id,
            policy_version=policy_version,
            details={"identity_kind": IdentityKind(kind).value},
            now=now,
        )
        return subject, []
    merged = merge_subjects(
        session,
        keyring,
        into=subject,
        other=owner,
        now=now,
        actor=actor,
        policy_version=policy_version,
    )
    return subject, merged


def merge_subjects(
    session: Session,
    keyring: Keyring,
    *,
    into: Subject,
    other: Subject,
    now: datetime,
    actor: Actor,
    policy_version: str | None = None,
) -> list[str]:
    """Merge ``other`` into ``into``: its identities are re-encrypted under ``into``'s key and
    moved; ``other`` is marked merged, so its consent history is read as ``into``'s."""
    if other.id == into.id:
        return []
    target_key = data_key(keyring, into)
    source_key = data_key(keyring, other)
    moved = 0
    for identity in session.scalars(select(Identity).where(Identity.subject_id == other.id)):
        plain = decrypt(source_key, identity.ciphertext, _associated_data(identity.kind, other.id))
        identity.ciphertext = encrypt(target_key, plain, _associated_data(identity.kind, into.id))
        identity.subject_id = into.id
        moved += 1
    other.merged_into = into.id
    session.flush()
    record_event(
        session,
        actor=actor,
        action="subject.merged",
        subject_id=into.id,
        policy_version=policy_version,
        details={"merged_subject": other.id, "identities_moved": moved},
        now=now,
    )
    return [other.id]


def identities_of(session: Session, keyring: Keyring, subject_id: str) -> list[IdentityValue]:
    """A subject's identities in plain text (for the subject themselves, or an access request)."""
    subject = get_subject(session, subject_id)
    key = data_key(keyring, subject)
    rows: Iterable[Identity] = session.scalars(
        select(Identity).where(Identity.subject_id == subject.id).order_by(Identity.id)
    )
    return [
        IdentityValue(
            IdentityKind(row.kind),
            decrypt(key, row.ciphertext, _associated_data(row.kind, subject.id)).decode(),
        )
        for row in rows
    ]
