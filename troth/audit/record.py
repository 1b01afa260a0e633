"""Record an audit event in the caller's transaction, chained to the event before it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from troth.store import take_sqlite_write_lock

from .chain import GENESIS_HASH, HASHED_FIELDS, event_hash
from .models import ActorKind, AuditEvent

# pg_advisory_xact_lock key for "the tail of the audit chain" (the migration lock is 7467243).
CHAIN_LOCK_KEY = 7467244

# A cheap guard, not a detector of personal data: it catches the common mistake of passing an
# email address where an id belongs. Callers pass opaque ids and counts only.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@dataclass(frozen=True)
class Actor:
    """Who caused a state change: a staff user, an API key, a data subject or a system job.

    ``id`` is an opaque identifier (a troth id, an API key's id, a job name), never an email
    address or a name.
    """

    kind: ActorKind
    id: str

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an audit actor needs an id")
        _refuse_email("actor id", self.id)

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(ActorKind.system, job)

    @classmethod
    def staff(cls, staff_id: str) -> Actor:
        return cls(ActorKind.staff, staff_id)

    @classmethod
    def api_key(cls, key_id: str) -> Actor:
        return cls(ActorKind.api_key, key_id)

    @classmethod
    def subject(cls, subject_id: str) -> Actor:
        return cls(ActorKind.subject, subject_id)


def record_event(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject_id: str | None = None,
    policy_version: str | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime,
) -> AuditEvent:
    """Append an event to the audit chain within the caller's transaction (the caller commits).

    ``action`` is a dotted name such as ``policy.version_recorded``; ``subject_id`` an opaque
    troth id; ``details`` ids, counts, versions and hashes only, never personal data. A value
    that looks like an email address is refused with :class:`ValueError`.

    Concurrent writers are serialised until the caller's transaction ends, so the chain never
    forks: on PostgreSQL by a transaction-level advisory lock, on SQLite by taking the write
    lock before reading the last event. Record the event as the last write of a transaction and
    commit promptly.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("record_event needs a timezone-aware 'now'")
    if not _ACTION.fullmatch(action):
        raise ValueError(
            f"audit action {action!r} is not a dotted lower-case name such as "
            "'policy.version_recorded'"
        )
    if subject_id is not None:
        _refuse_email("subject_id", subject_id)
    content = _checked_details(details or {})

    _lock_chain_tail(session)
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    event = AuditEvent(
        seq=last.seq + 1 if last else 1,
        occurred_at=now.astimezone(UTC),
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        action=action,
        subject_id=subject_id,
        policy_version=policy_version,
        details=content,
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    event.hash = event_hash({name: getattr(event, name) for name in HASHED_FIELDS})
    session.add(event)
    session.flush()
    return event


def _lock_chain_tail(session: Session) -> None:
    """Hold, until the transaction ends, the right to append to the chain."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    elif dialect == "sqlite":
        # Once held, no one else can append, and the last event read next is the latest
        # committed one. Had this transaction read an older snapshot, SQLite refuses the lock
        # instead: the whole transaction fails, and the chain cannot fork.
        take_sqlite_write_lock(session, "audit_events")
    # Elsewhere the unique ``seq`` makes a second writer fail rather than fork the chain.


def _checked_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """The details as plain JSON data, refusing anything that looks like an email address."""
    try:
        content = json.loads(json.dumps(details, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"audit details must be JSON data (strings, numbers, booleans, lists, objects): {exc}"
        ) from None
    if not isinstance(content, dict):
        raise ValueError("audit details must be a mapping of names to values")
    _refuse_email_within("details", content)
    return content


def _refuse_email_within(where: str, value: Any) -> None:
    if isinstance(value, str):
        _refuse_email(where, value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_email(f"{where} key", key)
            _refuse_email_within(f"{where}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_email_within(f"{where}[{index}]", item)


def _refuse_email(where: str, value: str) -> None:
    if _EMAIL.search(value):
        raise ValueError(
            f"audit {where} looks like an email address; audit events hold opaque ids and "
            "counts only, never personal data: pass the subject's troth id instead"
        )
