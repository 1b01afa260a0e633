"""Events in a client's life that start the clocks of the data collected for it (P17).

Under a rule that allows a per-client override (``per_client_override: true``) the clock of an
item collected for a client starts at the client's event: Kestrel's ``client_app_data`` keeps an
application's end users' data 30 days (or as agreed) after the client's contract ends.
Recording the event computes the deadlines of that client's items under the rules starting at
it, as a subject's event does for the subject's items; an event may be recorded again, and the
latest occurrence counts. Changing an agreed period recomputes them the same way
(:mod:`troth.vault.client_overrides`); an item whose clock still waits keeps waiting.

The new deadlines are written set-based: the client's items that come to the same deadline are
updated together, by id, in bounded statements, rather than one statement per item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Policy
from troth.declaration.model import RetentionRule

from .clients import client_key_problem, client_rules, client_terms
from .models import ClientEvent, VaultItem
from .retention import COLLECTED, covering_rules, deadline
from .subject_events import EventRefused, event_keys, latest_events

# Ids per UPDATE statement: well under every backend's limit on bound parameters.
UPDATE_CHUNK = 500


@dataclass(frozen=True)
class ClientEventRecorded:
    client: str
    event: str
    occurred_at: datetime
    items_updated: int


def record_client_event(
    session: Session,
    policy: Policy,
    *,
    client: str,
    event: str,
    occurred_at: datetime | None,
    now: datetime,
    actor: Actor,
) -> ClientEventRecorded:
    """Record that ``event`` happened to a client (at ``occurred_at``, default now) and set the
    deadlines it starts for the client's items, with the audit event
    ``vault.client_event_recorded`` (the client's key, the event and how many items changed).

    Raises :class:`~troth.vault.subject_events.EventRefused` for a malformed client key, an
    undeclared event or a time in the future.
    """
    problem = client_key_problem(client)
    if problem is not None:
        raise EventRefused("client", problem)
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
    session.add(
        ClientEvent(
            client=client,
            event=event,
            occurred_at=when,
            recorded_at=now,
            policy_version=policy.version,
        )
    )
    session.flush()
    starting = {rule.key for rule in client_rules(policy) if rule.starts_at == event}
    updated = refresh_client_deadlines(session, policy, client, starting)
    record_event(
        session,
        actor=actor,
        action="vault.client_event_recorded",
        policy_version=policy.version,
        details={"client": client, "event": event, "items_updated": updated},
        now=now,
    )
    return ClientEventRecorded(client, event, when, updated)


def refresh_client_deadlines(
    session: Session, policy: Policy, client: str, rules: Collection[str]
) -> int:
    """Compute again the deadline of the client's items that one of ``rules`` covers; the
    number of items whose governing rule, deadline or awaited event changed."""
    if not rules:
        return 0
    terms = client_terms(session, client)
    subject_events = _subject_events(session)
    cache: dict[tuple[str, str, str], list[RetentionRule]] = {}
    changes: dict[tuple[str, datetime | None, str | None], list[int]] = defaultdict(list)
    rows = session.execute(
        select(
            VaultItem.id,
            VaultItem.subject_id,
            VaultItem.category,
            VaultItem.source,
            VaultItem.purpose,
            VaultItem.collected_at,
            VaultItem.retention_rule,
            VaultItem.retain_until,
            VaultItem.waiting_for,
        ).where(VaultItem.client == client)
    ).all()
    for row in rows:
        scope = (row.category, row.source, row.purpose)
        if scope not in cache:
            cache[scope] = (
                covering_rules(
                    policy, category=row.category, source=row.source, purpose=row.purpose
                )
                if row.purpose in policy.purposes
                else []  # collected under a purpose a later version dropped
            )
        covering = cache[scope]
        if not any(rule.key in rules for rule in covering):
            continue
        # The subject's own events matter only to the rules that do not run on the client's.
        needs_subject = any(
            not rule.per_client_override and rule.starts_at != COLLECTED for rule in covering
        )
        events = subject_events(row.subject_id) if needs_subject else {}
        due = deadline(covering, row.collected_at, events, terms)
        outcome = (due.rule, due.retain_until, due.waiting_for)
        if outcome != (row.retention_rule, row.retain_until, row.waiting_for):
            changes[outcome].append(row.id)
    for (rule, retain_until, waiting_for), ids in changes.items():
        for start in range(0, len(ids), UPDATE_CHUNK):
            session.execute(
                update(VaultItem)
                .where(VaultItem.id.in_(ids[start : start + UPDATE_CHUNK]))
                .values(retention_rule=rule, retain_until=retain_until, waiting_for=waiting_for)
                .execution_options(synchronize_session=False)
            )
    # Items loaded in this session before the update must not keep their old deadlines.
    session.expire_all()
    return sum(len(ids) for ids in changes.values())


def _subject_events(session: Session) -> Callable[[str], dict[str, datetime]]:
    """Each subject's latest events, read once per subject."""
    seen: dict[str, dict[str, datetime]] = {}

    def events(subject_id: str) -> dict[str, datetime]:
        if subject_id not in seen:
            seen[subject_id] = latest_events(session, subject_id)
        return seen[subject_id]

    return events
