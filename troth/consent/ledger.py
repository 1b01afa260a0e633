"""The consent ledger: record consent events and subject signals, and link identities.

Reading is in :mod:`.reading`, cookie banner choices in :mod:`.cookies`.

Rows are only ever added. Every write also adds one row to the change feed
(:class:`~troth.consent.models.ConsentChange`) for decision caches in other processes, notes the
subject in ``session.info`` for the cache in this one, and writes its audit event, all in the
caller's transaction.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Duration, Policy
from troth.store import take_sqlite_write_lock
from troth.subjects import IdentityError, Keyring, registry
from troth.subjects.registry import canonical_ids, get_subject

from .models import (
    ActedBy,
    ConsentChange,
    ConsentEvent,
    ConsentState,
    Method,
    SignalKind,
    SubjectSignal,
)
from .reading import load_state

TOUCHED = "troth.consent.touched"
CONSENT_EVENTS = cast(Table, ConsentEvent.__table__)
MAX_COLLECTION_POINT = 500
MAX_LANGUAGE = 16
MAX_ACTOR_REF = 200
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
RECORDABLE = (ConsentState.given, ConsentState.refused, ConsentState.withdrawn)
# The columns of an event row, those that differ from event to event first, then those that a
# batch's events of one shape share (one purpose, one state, one method...).
PER_EVENT = ("record_id", "subject_id", "actor_ref")
PER_SHAPE = (
    "purpose",
    "state",
    "occurred_at",
    "expires_at",
    "policy_version",
    "notice_hash",
    "categories",
    "jurisdiction",
    "language",
    "collection_point",
    "method",
    "acted_by",
)
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


class ConsentInputError(ValueError):
    """Input the ledger refuses; ``field`` names the part that is wrong, ``message`` what is
    wrong with it. Neither repeats the value given: a caller's mistake can put personal data in
    any field (an email address as a purpose), and error answers end up in callers' logs."""

    def __init__(self, field: str, message: str, *, index: int | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.index = index


@dataclass(frozen=True)
class ConsentInput:
    """One consent choice to record for a subject and purpose."""

    purpose: str
    state: ConsentState | str
    method: Method | str = Method.api
    acted_by: ActedBy | str = ActedBy.subject
    actor_ref: str | None = None
    categories: Sequence[str] | None = None
    jurisdiction: str | None = None
    language: str | None = None
    collection_point: str | None = None


def _enum(kind: Any, value: Any, field: str, index: int | None, allowed: Iterable[Any]) -> Any:
    try:
        parsed = kind(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed not in allowed:
        names = ", ".join(str(a.value) for a in allowed)
        raise ConsentInputError(field, f"expected one of {names}", index=index)
    return parsed


def _expiry(policy: Policy, purpose: str, method: Method, now: datetime) -> datetime | None:
    periods: list[Duration] = []
    declared = policy.purposes[purpose].consent_expires_after
    if declared is not None:
        periods.append(declared)
    cookies = policy.declaration.cookies
    if method is Method.cookie_banner and cookies and cookies.consent_expires_after:
        periods.append(cookies.consent_expires_after)
    return min((p.add_to(now) for p in periods), default=None)


def check_where(language: str | None, collection_point: str | None, index: int | None) -> None:
    """The language and collection point of a choice, checked before anything is written."""
    if language is not None and (len(language) > MAX_LANGUAGE or not _LANGUAGE.fullmatch(language)):
        raise ConsentInputError(
            "language",
            f"expected a language tag such as 'en' or 'hi-IN', at most {MAX_LANGUAGE} characters",
            index=index,
        )
    if collection_point is not None and len(collection_point) > MAX_COLLECTION_POINT:
        raise ConsentInputError(
            "collection_point", f"longer than {MAX_COLLECTION_POINT} characters", index=index
        )


def _event_row(
    policy: Policy, subject_id: str, item: ConsentInput, index: int | None, now: datetime
) -> dict[str, Any]:
    decl = policy.declaration
    purpose = policy.purposes.get(item.purpose)
    if purpose is None:
        known = ", ".join(p.key for p in decl.purposes)
        raise ConsentInputError(
            "purpose", f"is not a declared purpose; declared: {known}", index=index
        )
    state = _enum(ConsentState, item.state, "state", index, RECORDABLE)
    method = _enum(Method, item.method, "method", index, list(Method))
    acted_by = _enum(ActedBy, item.acted_by, "acted_by", index, list(ActedBy))
    if item.categories is None:
        categories = list(purpose.categories)
    else:
        categories = list(dict.fromkeys(item.categories))
        for position, category in enumerate(categories):
            if category not in purpose.categories:
                raise ConsentInputError(
                    f"categories[{position}]",
                    f"is not a data category of purpose {purpose.key!r}; "
                    f"its categories: {', '.join(purpose.categories)}",
                    index=index,
                )
    jurisdictions = decl.organization.jurisdictions
    if item.jurisdiction is not None and item.jurisdiction not in jurisdictions:
        raise ConsentInputError(
            "jurisdiction",
            f"expected one of the organization's jurisdictions: {', '.join(jurisdictions)}",
            index=index,
        )
    check_where(item.language, item.collection_point, index)
    if item.actor_ref is not None and len(item.actor_ref) > MAX_ACTOR_REF:
        raise ConsentInputError("actor_ref", f"longer than {MAX_ACTOR_REF} characters", index=index)
    return {
        "record_id": str(uuid.uuid4()),
        "subject_id": subject_id,
        "purpose": purpose.key,
        "state": state.value,
        "occurred_at": now,
        "expires_at": _expiry(policy, purpose.key, method, now)
        if state is ConsentState.given
        else None,
        "policy_version": policy.version,
        "notice_hash": policy.content_hash,
        "categories": categories,
        "jurisdiction": item.jurisdiction,
        "language": item.language or decl.policy.language,
        "collection_point": item.collection_point,
        "method": method.value,
        "acted_by": acted_by.value,
        "actor_ref": item.actor_ref,
    }


def record_ids(count: int) -> list[str]:
    """``count`` fresh random (version 4) UUIDs as strings, from one read of the OS's random
    source: what ``str(uuid.uuid4())`` gives, without building a UUID object for each."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # the RFC 4122 variant
    hexed = raw.hex()
    return [
        f"{hexed[i : i + 8]}-{hexed[i + 8 : i + 12]}-{hexed[i + 12 : i + 16]}-"
        f"{hexed[i + 16 : i + 20]}-{hexed[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


Processor = Callable[[Any], Any] | None


@functools.lru_cache(maxsize=32)
def _processors(dialect: Dialect, columns: tuple[str, ...]) -> list[Processor]:
    """What SQLAlchemy would do to each column's value before handing it to the driver
    (worked out once per engine's dialect: adapting the types costs more than using them)."""
    processors: list[Processor] = []
    for name in columns:
        column_type = CONSENT_EVENTS.c[name].type
        if isinstance(column_type, JSON):
            # JSON goes as text, serialised as SQLAlchemy would: PostgreSQL's driver would
            # otherwise serialise a shape's value again for every row.
            processors.append(json.dumps)
        else:
            processors.append(column_type.dialect_impl(dialect).bind_processor(dialect))
    return processors


def _driver_values(values: Sequence[Any], processors: Sequence[Processor]) -> tuple[Any, ...]:
    return tuple(v if p is None else p(v) for v, p in zip(values, processors, strict=True))


def _insert_events(
    session: Session, per_shape: dict[int, tuple[Any, ...]], events: list[tuple[Any, ...]]
) -> None:
    """Insert events with the driver's own ``executemany``.

    Each event is ``(record_id, subject_id, actor_ref, shape)``; the values of a shape's columns
    (``per_shape[shape]``) go through SQLAlchemy's type processing (timestamps, JSON) once per
    shape rather than once per row, which was half the cost of an insert on SQLite. Drivers with
    another parameter style take the ordinary Core insert.
    """
    connection = session.connection()
    dialect = connection.dialect
    mark = _MARKS.get(dialect.paramstyle)
    if mark is None:
        rows = [
            dict(zip(PER_EVENT + PER_SHAPE, (*event[:3], *per_shape[event[3]]), strict=True))
            for event in events
        ]
        session.execute(insert(CONSENT_EVENTS), rows)
        return
    shared = _processors(dialect, PER_SHAPE)
    ready = {shape: _driver_values(values, shared) for shape, values in per_shape.items()}
    own = _processors(dialect, PER_EVENT)
    if any(p is not None for p in own):
        params = [(*_driver_values(e[:3], own), *ready[e[3]]) for e in events]
    else:
        params = [(*e[:3], *ready[e[3]]) for e in events]
    columns = PER_EVENT + PER_SHAPE
    connection.exec_driver_sql(
        f"INSERT INTO {CONSENT_EVENTS.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})",
        params,
    )


def mark_changed(session: Session, subject_ids: Iterable[str | None], now: datetime) -> None:
    """Tell decision caches that these subjects (None: every subject) changed.

    One row in the change feed per call, listing the subjects, so that a write touching many
    subjects costs one insert, and a cache polling the feed reads one row for it.
    """
    ids = list(dict.fromkeys(subject_ids))
    if not ids:
        return
    every = None in ids
    session.execute(
        insert(ConsentChange),
        {"subject_ids": None if every else ids, "changed_at": now},
    )
    session.info.setdefault(TOUCHED, set()).update([None] if every else ids)


def record_consents(
    session: Session,
    policy: Policy,
    items: Sequence[tuple[str, ConsentInput]],
    *,
    actor: Actor,
    now: datetime,
) -> list[dict[str, Any]]:
    """Record consent events, each ``(subject_id, choice)``, all or nothing.

    Validates every item before writing any (:class:`ConsentInputError` names the item's index
    and field), stores each under the subject it now belongs to (after merges), writes one
    ``consent.recorded`` audit event, and returns the rows written.
    """
    take_sqlite_write_lock(session, "consent_changes")
    canonical = canonical_ids(session, (subject_id for subject_id, _ in items))
    # Events of a batch mostly repeat a few shapes (one purpose, one state): each distinct shape
    # is checked once, and its row reused with a fresh record id and the subject's id.
    checked: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    per_shape: dict[int, tuple[Any, ...]] = {}
    ids = record_ids(len(items))
    rows = []
    events = []
    for index, (subject_id, item) in enumerate(items):
        shape = (
            item.purpose,
            item.state,
            item.method,
            item.acted_by,
            None if item.categories is None else tuple(item.categories),
            item.jurisdiction,
            item.language,
            item.collection_point,
        )
        found = checked.get(shape)
        if found is None:
            template = _event_row(policy, "", item, index, now)
            found = checked[shape] = (len(checked), template)
            per_shape[found[0]] = tuple(template[name] for name in PER_SHAPE)
        elif item.actor_ref is not None and len(item.actor_ref) > MAX_ACTOR_REF:
            raise ConsentInputError(
                "actor_ref", f"longer than {MAX_ACTOR_REF} characters", index=index
            )
        row = dict(found[1])
        row["record_id"] = ids[index]
        row["subject_id"] = canonical[subject_id]
        row["actor_ref"] = item.actor_ref
        rows.append(row)
        events.append((row["record_id"], row["subject_id"], item.actor_ref, found[0]))
    if not rows:
        return []
    _insert_events(session, per_shape, events)
    subjects = list(dict.fromkeys(row["subject_id"] for row in rows))
    mark_changed(session, subjects, now)
    states: dict[str, int] = {}
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
    record_event(
        session,
        actor=actor,
        action="consent.recorded",
        subject_id=subjects[0] if len(subjects) == 1 else None,
        policy_version=policy.version,
        details={
            "events": len(rows),
            "states": states,
            "purposes": sorted({row["purpose"] for row in rows}),
            "subjects": subjects,
            "record_ids": [row["record_id"] for row in rows] if len(rows) <= 50 else [],
        },
        now=now,
    )
    return rows


def withdraw(
    session: Session,
    policy: Policy,
    subject_id: str,
    purposes: Sequence[str],
    *,
    method: Method | str,
    actor: Actor,
    now: datetime,
    acted_by: ActedBy | str = ActedBy.subject,
) -> list[dict[str, Any]]:
    """Withdraw consent for the purposes named (all purposes with consent given, if none)."""
    take_sqlite_write_lock(session, "consent_changes")
    if not purposes:
        state = load_state(session, subject_id, now)
        purposes = [p for p, c in state.consents.items() if c.state is ConsentState.given]
    items = [
        (subject_id, ConsentInput(p, ConsentState.withdrawn, method=method, acted_by=acted_by))
        for p in purposes
    ]
    return record_consents(session, policy, items, actor=actor, now=now)


def record_signal(
    session: Session,
    policy: Policy,
    subject_id: str,
    kind: SignalKind | str,
    *,
    active: bool = True,
    purpose: str | None = None,
    method: Method | str = Method.api,
    actor: Actor,
    now: datetime,
) -> SubjectSignal:
    """Raise (or lift, ``active=False``) a restriction, objection, GPC opt-out or child flag."""
    parsed = _enum(SignalKind, kind, "kind", None, list(SignalKind))
    parsed_method = _enum(Method, method, "method", None, list(Method))
    if purpose is not None and purpose not in policy.purposes:
        raise ConsentInputError("purpose", "is not a declared purpose")
    if purpose is not None and parsed is not SignalKind.objection:
        raise ConsentInputError("purpose", "only an objection can be limited to one purpose")
    take_sqlite_write_lock(session, "consent_changes")
    subject = get_subject(session, subject_id)
    signal = SubjectSignal(
        subject_id=subject.id,
        kind=parsed.value,
        purpose=purpose,
        active=active,
        occurred_at=now,
        policy_version=policy.version,
        method=parsed_method.value,
    )
    session.add(signal)
    session.flush()
    mark_changed(session, [subject.id], now)
    record_event(
        session,
        actor=actor,
        action=f"subject.{parsed.value}_{'raised' if active else 'lifted'}",
        subject_id=subject.id,
        policy_version=policy.version,
        details={"purpose": purpose, "method": parsed_method.value},
        now=now,
    )
    return signal


def link_identity(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    subject_id: str,
    kind: str,
    value: str,
    *,
    actor: Actor,
    now: datetime,
) -> tuple[str, list[str]]:
    """Attach an identity to a subject, merging in the subject that held it (an anonymous
    browser's consent history becomes the known subject's). Returns the subject id and the ids
    merged in. :class:`ConsentInputError` for a malformed identity."""
    take_sqlite_write_lock(session, "consent_changes")
    try:
        subject, merged = registry.link_identity(
            session,
            keyring,
            subject_id,
            kind,
            value,
            now=now,
            actor=actor,
            policy_version=policy.version,
        )
    except IdentityError as exc:
        raise ConsentInputError("identity", exc.reason) from None
    if merged:
        # Only a merge changes what is decided; a new identity, or one already the subject's,
        # leaves every decision as it was.
        mark_changed(session, [subject.id, *merged], now)
    return subject.id, merged
