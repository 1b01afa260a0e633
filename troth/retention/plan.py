"""The retention plan (a dry run): what each rule will act on now, and in each of the next 12
months, without changing anything.

Per rule: the items due now (their deadline has passed), then per month the items whose
deadline falls in it: the rest of the current month first, then each following calendar month
(UTC), twelve in all. Months are counted *per month*, not cumulatively. Items a legal hold
keeps back are counted apart (``held_now``, ``held_by_month``): they are not acted on while the
hold lasts. Items whose clock still waits for an event have no deadline and appear in no month
(the review report counts them).

Each row names its ``source`` (``vault``; a company database's rows will be ``dataset:KEY``),
so that the datasets' plan can be added rule by rule beside the vault's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from troth.declaration import Policy
from troth.declaration.durations import month_ends
from troth.vault.models import VaultItem

from .holds import active_holds, vault_hold_condition
from .sweep import SOURCE, due_condition

MONTHS = 12


@dataclass(frozen=True)
class PlanRow:
    source: str
    rule: str
    name: str
    action: str
    due_now: int
    held_now: int
    by_month: tuple[int, ...]
    held_by_month: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.due_now + sum(self.by_month)


@dataclass(frozen=True)
class RetentionPlan:
    """``months[i]`` is the first instant after month ``i`` (UTC): month 0 runs from now to
    ``months[0]``, month ``i`` from ``months[i - 1]`` to ``months[i]``."""

    now: datetime
    months: tuple[datetime, ...]
    rows: list[PlanRow] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        """``now``, then each month as ``Nov 2026``."""
        return ["now"] + [_label(end) for end in self.months]

    def rows_of(self, source: str) -> list[PlanRow]:
        return [row for row in self.rows if row.source == source]


def _label(end: datetime) -> str:
    """The month ending just before ``end``."""
    year, month = (end.year, end.month - 1) if end.month > 1 else (end.year - 1, 12)
    return datetime(year, month, 1, tzinfo=UTC).strftime("%b %Y")


def plan_vault(session: Session, policy: Policy, now: datetime) -> RetentionPlan:
    """The vault's retention plan at ``now``: one row per declared rule, in declaration order."""
    ends = month_ends(now)
    bounds = [now, *ends]
    held = vault_hold_condition(session, active_holds(session, now))
    plan = RetentionPlan(now=now, months=ends)
    for rule in policy.declaration.retention:
        # One grouped query per rule: which bucket each due-or-coming item falls in, and whether
        # a hold keeps it (its deadline may pass while the hold lasts, so it is counted there).
        bucket = case(
            (VaultItem.retain_until <= now, 0),
            *[(VaultItem.retain_until <= end, i + 1) for i, end in enumerate(bounds[1:])],
            else_=-1,
        )
        is_held = case((held, 1), else_=0)
        # Grouped outside a subquery: PostgreSQL does not match two copies of an expression
        # with bound parameters in SELECT and GROUP BY.
        items = (
            select(bucket.label("bucket"), is_held.label("held"))
            .where(due_condition(rule.key, rule.action, ends[-1]))
            .subquery()
        )
        rows = session.execute(
            select(items.c.bucket, items.c.held, func.count()).group_by(
                items.c.bucket, items.c.held
            )
        ).all()
        counts = [0] * (MONTHS + 1)
        held_counts = [0] * (MONTHS + 1)
        for index, kept, n in rows:
            if index < 0:
                continue
            (held_counts if kept else counts)[index] += n
        plan.rows.append(
            PlanRow(
                source=SOURCE,
                rule=rule.key,
                name=rule.name,
                action=rule.action,
                due_now=counts[0],
                held_now=held_counts[0],
                by_month=tuple(counts[1:]),
                held_by_month=tuple(held_counts[1:]),
            )
        )
    return plan
