"""The consent window: a child's data no parent consented to in time is deleted.

:func:`expire_held_children` runs from ``troth serve``'s background loop and from
``troth children sweep``. It takes held submissions whose window has ended in batches, each in
its own transaction; on PostgreSQL the rows are locked with ``SKIP LOCKED``, so two servers
sweeping at once take different holds, and a hold a parent is answering at that moment is left
to that answer. On SQLite the transaction holds the database's write lock, taken only when a
plain read has found something to expire. A hold is expired only
while it is still ``held``, so sweeping again, or after an answer, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor, record_event
from troth.store import write_scope
from troth.vault.models import ChildHold

from .locking import delete_held_items

SWEEP_ACTOR = Actor.system("troth.children.sweep")
BATCH = 100


@dataclass(frozen=True)
class SweepReport:
    holds_expired: int = 0
    items_deleted: int = 0


def expire_held_children(
    session_factory: sessionmaker[Session], now: datetime, *, batch: int = BATCH
) -> SweepReport:
    """Delete every held submission whose consent window ended by ``now``, each with the audit
    event ``child.hold_expired`` (counts and ids, no values)."""
    holds = items = 0
    lapsed = (ChildHold.status == "held", ChildHold.window_ends <= now)
    while True:
        # Looked for first without the write lock: the server sweeps every minute, and an idle
        # pass must not make every other writer on SQLite wait for it.
        with session_factory() as session:
            if session.scalar(select(ChildHold.id).where(*lapsed).limit(1)) is None:
                return SweepReport(holds, items)
        with write_scope(session_factory) as session:
            query = (
                select(ChildHold)
                .where(*lapsed)
                .order_by(ChildHold.window_ends, ChildHold.id)
                .limit(batch)
            )
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            due = list(session.scalars(query))
            for hold in due:
                deleted = delete_held_items(session, hold.id)
                hold.status = "expired"
                hold.decided_at = now
                session.flush()
                record_event(
                    session,
                    actor=SWEEP_ACTOR,
                    action="child.hold_expired",
                    subject_id=hold.subject_id,
                    policy_version=hold.policy_version,
                    details={
                        "hold_id": hold.id,
                        "submission_id": hold.submission_id,
                        "purposes": hold.purposes,
                        "categories": hold.categories,
                        "window_ends": hold.window_ends.isoformat() if hold.window_ends else None,
                        "items_deleted": deleted,
                    },
                    now=now,
                )
                holds += 1
                items += deleted
        if len(due) < batch:
            return SweepReport(holds, items)
