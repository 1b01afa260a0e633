"""The staff queue of open requests, overdue first, and what is due next for each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import RightsRequest
from .states import OPEN, RequestState


@dataclass(frozen=True)
class QueueFilters:
    """Narrow the queue: any field left None matches every request. ``state`` may name a final
    state to see closed requests; by default only open ones are listed."""

    state: str | None = None
    kind: str | None = None
    jurisdiction: str | None = None
    subject_id: str | None = None
    overdue_only: bool = False


@dataclass(frozen=True)
class QueueEntry:
    request: RightsRequest
    next_deadline: str  # "acknowledge" or "complete", or "" for a closed request
    due_at: datetime | None
    overdue: bool


def next_due(request: RightsRequest) -> tuple[str, datetime | None]:
    """The deadline the request must meet next: acknowledging, then completing."""
    if RequestState(request.state) not in OPEN:
        return "", None
    if request.acknowledged_at is None:
        return "acknowledge", request.acknowledge_by
    return "complete", request.complete_by


def queue(session: Session, filters: QueueFilters, now: datetime) -> list[QueueEntry]:
    """Requests matching ``filters``: overdue ones first, then by their next deadline."""
    query = select(RightsRequest)
    if filters.state is not None:
        query = query.where(RightsRequest.state == filters.state)
    else:
        query = query.where(RightsRequest.state.in_(sorted(s.value for s in OPEN)))
    for column, value in (
        (RightsRequest.kind, filters.kind),
        (RightsRequest.jurisdiction, filters.jurisdiction),
        (RightsRequest.subject_id, filters.subject_id),
    ):
        if value is not None:
            query = query.where(column == value)
    entries = []
    for request in session.scalars(query):
        which, due = next_due(request)
        overdue = due is not None and due <= now
        if filters.overdue_only and not overdue:
            continue
        entries.append(QueueEntry(request, which, due, overdue))
    far = datetime.max.replace(tzinfo=now.tzinfo)
    entries.sort(key=lambda e: (not e.overdue, e.due_at or far, e.request.received_at))
    return entries
