"""Find audit events by subject, actor, action and time, a page at a time, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from .models import AuditEvent

PAGE_SIZE = 50


@dataclass(frozen=True)
class EventQuery:
    """What to look for; every field left None matches everything.

    ``action`` matches that action exactly or, as a prefix, every action under it: ``staff``
    finds ``staff.signed_in`` and ``staff.locked``. ``since`` is inclusive, ``until`` exclusive.
    """

    subject_id: str | None = None
    actor_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.subject_id:
            found.append(AuditEvent.subject_id == self.subject_id)
        if self.actor_id:
            found.append(AuditEvent.actor_id == self.actor_id)
        if self.action:
            prefix = self.action.rstrip(".")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found.append(
                or_(
                    AuditEvent.action == prefix,
                    AuditEvent.action.like(f"{escaped}.%", escape="\\"),
                )
            )
        if self.since is not None:
            found.append(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            found.append(AuditEvent.occurred_at < self.until)
        return found


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def search_events(
    session: Session, query: EventQuery, *, page: int = 1, page_size: int = PAGE_SIZE
) -> EventPage:
    """One page (from 1) of the events ``query`` matches, newest (highest ``seq``) first."""
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size start at 1")
    conditions = query.conditions()
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    events = session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.seq.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return EventPage(list(events), total, page, page_size)
