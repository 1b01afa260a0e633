"""Master key rotation: re-wrap every subject's data key, and re-index their identities, under
the keyring's current master key while servers keep running.

Work goes in batches of subjects, each batch in its own short transaction, so servers (loaded
with both keys: the new one current, the old one previous) are never blocked for long and read
every row whichever key it is under at that moment. Every step is idempotent: a data key already
under the current key is left as it is, and an identity's index is rewritten only when it
differs, so a run cut short is finished by running it again. Values encrypted under a data key
are untouched: rotation changes only how the data keys themselves are protected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor, record_event
from troth.store import write_scope

from .keys import Keyring, decrypt
from .models import Identity, Subject
from .registry import _associated_data

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class BatchResult:
    subjects_seen: int
    keys_rewrapped: int
    identities_reindexed: int
    last_subject_id: str | None


@dataclass(frozen=True)
class RotationResult:
    batches: int
    subjects_seen: int
    keys_rewrapped: int
    identities_reindexed: int


def rotate_batch(
    session: Session,
    keyring: Keyring,
    *,
    after: str | None,
    limit: int,
    now: datetime,
    actor: Actor,
) -> BatchResult:
    """Bring the next ``limit`` subjects (by id, after ``after``) under the current key, in the
    caller's transaction; writes ``subjects.keys_rotated`` when anything changed."""
    query = select(Subject).order_by(Subject.id).limit(limit).with_for_update()
    if after is not None:
        query = query.where(Subject.id > after)
    subjects = list(session.scalars(query))
    rewrapped = reindexed = 0
    for subject in subjects:
        if subject.wrapped_key is None:
            continue  # shredded: there is no key left to protect
        data_key = keyring.unwrap(subject.wrapped_key)
        if keyring.needs_rewrap(subject.wrapped_key):
            subject.wrapped_key = keyring.wrap(data_key)
            rewrapped += 1
        identities = session.scalars(
            select(Identity).where(Identity.subject_id == subject.id).with_for_update()
        )
        for identity in identities:
            value = decrypt(
                data_key, identity.ciphertext, _associated_data(identity.kind, subject.id)
            ).decode()
            lookup = keyring.index(identity.kind, value)
            if identity.lookup != lookup:
                identity.lookup = lookup
                reindexed += 1
    session.flush()
    if rewrapped or reindexed:
        record_event(
            session,
            actor=actor,
            action="subjects.keys_rotated",
            details={
                "master_key_id": keyring.current.key_id,
                "subjects_seen": len(subjects),
                "keys_rewrapped": rewrapped,
                "identities_reindexed": reindexed,
            },
            now=now,
        )
    return BatchResult(len(subjects), rewrapped, reindexed, subjects[-1].id if subjects else None)


def rotate_keys(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    *,
    clock: Callable[[], datetime],
    actor: Actor,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[BatchResult], None] | None = None,
) -> RotationResult:
    """Rotate every subject, batch by batch, each batch committed on its own."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    after: str | None = None
    batches = seen = rewrapped = reindexed = 0
    while True:
        with write_scope(sessions) as session:
            result = rotate_batch(
                session, keyring, after=after, limit=batch_size, now=clock(), actor=actor
            )
        if result.subjects_seen == 0:
            break
        batches += 1
        seen += result.subjects_seen
        rewrapped += result.keys_rewrapped
        reindexed += result.identities_reindexed
        if on_batch is not None:
            on_batch(result)
        after = result.last_subject_id
    return RotationResult(batches, seen, rewrapped, reindexed)


def subjects_under_other_keys(session: Session, keyring: Keyring) -> int:
    """How many subjects' data keys are not yet wrapped under the current master key."""
    blobs = session.scalars(select(Subject.wrapped_key).where(Subject.wrapped_key.is_not(None)))
    return sum(1 for blob in blobs if blob is not None and keyring.needs_rewrap(blob))
