"""Opt-in rates per purpose for the console's dashboard, from the consent ledger's current state.

The current state of a subject's consent to a purpose is its latest event (by time, then by the
order recorded) at ``now``. The rate of a purpose is given / (given + refused + withdrawn) over
those states: a consent that expired, or a purpose never asked about, counts on neither side.
Counts only: no subject is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .models import ConsentEvent, ConsentState


@dataclass(frozen=True)
class OptInRate:
    purpose: str
    given: int
    refused: int
    withdrawn: int

    @property
    def answered(self) -> int:
        return self.given + self.refused + self.withdrawn

    @property
    def rate(self) -> float | None:
        return self.given / self.answered if self.answered else None


def opt_in_rates(session: Session, now: datetime) -> list[OptInRate]:
    """One entry per purpose that has a current given, refused or withdrawn state, by purpose."""
    latest = (
        select(
            ConsentEvent.purpose,
            ConsentEvent.state,
            ConsentEvent.expires_at,
            func.row_number()
            .over(
                partition_by=(ConsentEvent.subject_id, ConsentEvent.purpose),
                order_by=(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc()),
            )
            .label("n"),
        )
        .where(ConsentEvent.occurred_at <= now)
        .subquery()
    )
    # A given consent whose expiry has passed is expired now, not given.
    current = (
        select(latest.c.purpose, latest.c.state, func.count())
        .where(latest.c.n == 1)
        .where(
            or_(
                latest.c.state != ConsentState.given.value,
                latest.c.expires_at.is_(None),
                latest.c.expires_at > now,
            )
        )
        .group_by(latest.c.purpose, latest.c.state)
    )
    counts: dict[str, dict[str, int]] = {}
    for purpose, state, count in session.execute(current):
        counts.setdefault(purpose, {})[state] = count
    rates = [
        OptInRate(
            purpose=purpose,
            given=found.get(ConsentState.given.value, 0),
            refused=found.get(ConsentState.refused.value, 0),
            withdrawn=found.get(ConsentState.withdrawn.value, 0),
        )
        for purpose, found in sorted(counts.items())
    ]
    return [rate for rate in rates if rate.answered]
