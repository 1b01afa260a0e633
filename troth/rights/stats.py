"""Figures about rights requests for the console's dashboard: how many arrive, of which kind,
where they stand, and whether they are answered on time (P14).

Weeks are ISO weeks (Monday to Sunday) in UTC; the window is the week of ``now`` and the ones
before it. Only counts and durations leave this module, never a request's contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import RightsRequest
from .states import RequestState


@dataclass(frozen=True)
class WeekCounts:
    """Requests received in one week, counted by kind and by the state they are in now."""

    week: date  # its Monday
    by_kind: dict[str, int]
    by_state: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


@dataclass(frozen=True)
class Completion:
    """Requests completed within the window: how many met their deadline (extended deadlines
    count as met when kept), and the median time from receipt to completion."""

    completed: int
    on_time: int
    median_time: timedelta | None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.completed if self.completed else None


def week_of(moment: datetime) -> date:
    """The Monday of the ISO week ``moment`` falls in (UTC)."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


def window_start(now: datetime, weeks: int) -> datetime:
    first = week_of(now) - timedelta(weeks=weeks - 1)
    return datetime.combine(first, time(), now.tzinfo)


def requests_per_week(session: Session, now: datetime, weeks: int = 12) -> list[WeekCounts]:
    """One entry per week of the window, oldest first, weeks without requests included."""
    since = window_start(now, weeks)
    rows = session.execute(
        select(RightsRequest.received_at, RightsRequest.kind, RightsRequest.state).where(
            RightsRequest.received_at >= since, RightsRequest.received_at <= now
        )
    )
    mondays = [since.date() + timedelta(weeks=n) for n in range(weeks)]
    kinds: dict[date, dict[str, int]] = {monday: {} for monday in mondays}
    states: dict[date, dict[str, int]] = {monday: {} for monday in mondays}
    for received_at, kind, state in rows:
        monday = week_of(received_at)
        kinds[monday][kind] = kinds[monday].get(kind, 0) + 1
        states[monday][state] = states[monday].get(state, 0) + 1
    return [WeekCounts(monday, kinds[monday], states[monday]) for monday in mondays]


def middle(durations: list[timedelta]) -> timedelta | None:
    """The median: the middle one, or the mean of the middle two."""
    if not durations:
        return None
    ordered = sorted(durations)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def completion(session: Session, now: datetime, weeks: int = 12) -> Completion:
    """On-time rate and median time to complete of the requests completed in the window."""
    rows = session.execute(
        select(RightsRequest.received_at, RightsRequest.complete_by, RightsRequest.closed_at).where(
            RightsRequest.state == RequestState.completed.value,
            RightsRequest.closed_at >= window_start(now, weeks),
            RightsRequest.closed_at <= now,
        )
    ).all()
    # A completed request always has its closing time; the filter above says so to SQL.
    closed_rows = [(received, due, closed) for received, due, closed in rows if closed is not None]
    durations = [closed - received for received, _, closed in closed_rows]
    on_time = sum(1 for _, due, closed in closed_rows if closed <= due)
    return Completion(
        completed=len(closed_rows),
        on_time=on_time,
        median_time=middle(durations),
    )
