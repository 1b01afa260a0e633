"""Events in a subject's life that start retention clocks, and the deadlines they set (P17).

A rule such as "30 days after the account is closed" cannot give a deadline when the data is
collected: the item waits. Recording ``account_closed`` for the subject computes the deadline of
every item of theirs that a rule starting at that event covers (waiting items get one; an item
already due earlier under minimisation may come due sooner). An event may be recorded again
(``last_activity`` typically is): the latest occurrence counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Policy
from troth.declaration.model import BUILTIN_EVENTS, RetentionRule
from troth.subjects.registry import get_subject, merged_ids

from .clients import client_terms
from .models import SubjectEvent, VaultItem
from .retention import COLLECTED, ClientTerms, covering_rules, deadline


class EventRefused(ValueError):
    """An event that cannot be recorded; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class EventRecorded:
    subject_id: str
    event: str
    occurred_at: datetime
    items_updated: int


def event_keys(policy: Policy) -> list[str]:
    """The events that can be recorded: the built-in ones but ``collected``, and custom ones."""
    builtin = [key for key in BUILTIN_EVENTS if key != COLLECTED]
    return builtin + [e.key for e in policy.declaration.events if e.key not in builtin]


def latest_events(session: Session, subject_id: str) -> dict[str, datetime]:
    """Each event's latest occurrence for a subject and the subjects merged into it."""
    ids = merged_ids(session, subject_id)
    found: dict[str, datetime] = {}
    rows = session.execute(
        select(SubjectEvent.event, SubjectEvent.occurred_at).where(SubjectEvent.subject_id.in_(ids))
    )
    for event, occurred_at in rows:
        if event not in found or occurred_at > found[event]:
            found[event] = occurred_at
    return found


def record_subject_event(
    session: Session,
    policy: Policy,
    *,
    subject_id: str,
    event: str,
    occurred_at: datetime | None,
    now: datetime,
    actor: Actor,
) -> EventRecorded:
    """Record that ``event`` happened to a subject (at ``occurred_at``, default now) and set
    the deadlines it starts, with the audit event ``vault.event_recorded``.

    Raises :class:`EventRefused` for an undeclared event or a time in the future, and
    :class:`~troth.subjects.registry.UnknownSubject` for an unknown subject.
    """
    if event not in event_keys(policy):
        raise EventRefused(
            "event",
            "is not an event the declaration knows; expected one of "
            + ", ".join(event_keys(policy)),
        )
    when = now if occurred_at is None else occurred_at
    if when.tzinfo is None or when.utcoffset() is None:
        raise EventRefused("occurred_at", "needs a time zone (e.g. 2026-11-01T09:30:00Z)")
    if when > now:
        raise EventRefused("occurred_at", "is in the future")
    subject = get_subject(session, subject_id)
    session.add(
        SubjectEvent(
            subject_id=subject.id,
            event=event,
            occurred_at=when,
            recorded_at=now,
            policy_version=policy.version,
        )
    )
    session.flush()
    updated = refresh_deadlines(session, policy, subject.id, event)
    record_event(
        session,
        actor=actor,
        action="vault.event_recorded",
        subject_id=subject.id,
        policy_version=policy.version,
        details={"event": event, "items_updated": updated},
        now=now,
    )
    return EventRecorded(subject.id, event, when, updated)


def refresh_deadlines(session: Session, policy: Policy, subject_id: str, event: str) -> int:
    """Compute again the deadline of the subject's items that a rule starting at ``event``
    covers; the number of items whose deadline changed. An item collected for a client counts
    the client's terms under the rules that allow a per-client override."""
    starting = {rule.key for rule in policy.declaration.retention if rule.starts_at == event}
    if not starting:
        return 0
    events = latest_events(session, subject_id)
    ids = merged_ids(session, subject_id)
    changed = 0
    cache: dict[tuple[str, str, str], list[RetentionRule]] = {}
    terms: dict[str, ClientTerms] = {}
    items = session.scalars(select(VaultItem).where(VaultItem.subject_id.in_(ids))).all()
    for item in items:
        scope = (item.category, item.source, item.purpose)
        if scope not in cache:
            if item.purpose not in policy.purposes:
                cache[scope] = []  # collected under a purpose a later version dropped
            else:
                cache[scope] = covering_rules(
                    policy, category=item.category, source=item.source, purpose=item.purpose
                )
        rules = cache[scope]
        if not any(rule.key in starting for rule in rules):
            continue
        client = None
        if item.client is not None:
            if item.client not in terms:
                terms[item.client] = client_terms(session, item.client)
            client = terms[item.client]
        due = deadline(rules, item.collected_at, events, client)
        if (due.rule, due.retain_until, due.waiting_for) != (
            item.retention_rule,
            item.retain_until,
            item.waiting_for,
        ):
            item.retention_rule = due.rule
            item.retain_until = due.retain_until
            item.waiting_for = due.waiting_for
            changed += 1
    session.flush()
    return changed
