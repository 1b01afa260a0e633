"""Planning and review of retention over a company database, counted without changing anything.

:func:`plan_dataset` counts, per rule, the rows a sweep would act on now and the rows that expire
in each of the next twelve months, leaving out what legal holds keep. :func:`review_rows` counts,
per rule, what the rule holds now for the annual review (P20): rows still holding data under it, how
many are overdue, how many have no clock yet, the oldest clock, and the rows isolated under it.
Both count over the same units and conditions as the sweep itself (:mod:`troth.datasets.units`,
:mod:`troth.datasets.steps`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select, true

from troth.declaration import Policy
from troth.declaration.durations import month_ends

from . import isolation
from .holds import NO_HOLDS, Holds
from .run import Target
from .steps import Sweep, as_utc, rule_cutoff

MONTHS = 12


@dataclass(frozen=True)
class RuleReview:
    """What one rule holds in a dataset now, for the annual review (P20): rows that still hold
    data under it, how many of them are past the period (a sweep is due), how many have no clock
    yet, and the oldest clock among them."""

    rows: int = 0
    overdue: int = 0
    unstarted: int = 0
    oldest: datetime | None = None
    isolated: int = 0  # rows whose values the rule moved to troth_isolated


def plan_dataset(
    target: Target, policy: Policy, now: datetime, holds: Holds = NO_HOLDS
) -> dict[str, list[int]]:
    """Per rule: rows a sweep would act on now, then rows that expire in each of the next twelve
    months (by the end of this month, of next month, ...), leaving out what holds keep. One query
    per unit (a collection's fields under one rule and clock column)."""
    sweep = Sweep(target, policy, now, holds)
    plan: dict[str, list[int]] = {}
    ends = month_ends(now, MONTHS)
    with target.engine.connect() as conn:
        for unit in sweep.units:
            counts = plan.setdefault(unit.rule.key, [0] * (len(ends) + 1))
            if sweep.collection_held(unit):
                continue
            table = sweep.table(unit)
            stamp = sweep.stamp(unit)
            cutoffs = [rule_cutoff(unit.rule, m, stamp) for m in [sweep.now, *ends]]
            fields = sweep.free_fields(unit)
            if not fields and not unit.idle:
                continue  # everything the rule covers here is held
            conditions = [stamp.is_not(None), stamp < cutoffs[-1]]
            if not unit.idle and not sweep.deletes_rows(unit):
                # rows already acted on are not counted again
                conditions.append(or_(*(sweep.pending(unit, f) for f in fields)))
            excluded = sweep.excluded(unit)
            if excluded is not None:
                conditions.append(not_(excluded))
            buckets = [case((stamp < cutoffs[0], 1), else_=0)] + [
                case((and_(stamp >= low, stamp < high), 1), else_=0)
                for low, high in pairwise(cutoffs)
            ]
            row = conn.execute(
                select(*(func.coalesce(func.sum(b), 0) for b in buckets))
                .select_from(table)
                .where(and_(*conditions))
            ).one()
            for i, value in enumerate(row):
                counts[i] += int(value)
    for issue in sweep.issues:
        if issue.rule is not None and issue.rule in policy.retention_rules:
            plan.setdefault(issue.rule, [0] * (len(ends) + 1))
    return plan


def review_rows(target: Target, policy: Policy, now: datetime) -> dict[str, RuleReview]:
    """Per rule: what it holds in the dataset now (rows still holding data under it), how much is
    overdue, how much has no clock yet, and since when the oldest row is held."""
    sweep = Sweep(target, policy, now, NO_HOLDS)
    found: dict[str, RuleReview] = {}
    with target.engine.connect() as conn:
        isolated = isolation.per_rule(conn, [c.name for c in target.dataset.collections])
        for unit in sweep.units:
            table = sweep.table(unit)
            stamp = sweep.stamp(unit)
            if unit.idle or sweep.deletes_rows(unit):
                where: ColumnElement[bool] = true()
            else:
                where = or_(*(sweep.present(unit, f) for f in unit.fields))
            row = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(case((sweep.expired(unit), 1), else_=0)), 0),
                    func.coalesce(func.sum(case((stamp.is_(None), 1), else_=0)), 0),
                    func.min(stamp),
                )
                .select_from(table)
                .where(where)
            ).one()
            before = found.get(unit.rule.key, RuleReview())
            oldest = as_utc(row[3]) if row[3] is not None else None
            if before.oldest is not None and (oldest is None or before.oldest < oldest):
                oldest = before.oldest
            found[unit.rule.key] = RuleReview(
                rows=before.rows + int(row[0]),
                overdue=before.overdue + int(row[1]),
                unstarted=before.unstarted + int(row[2]),
                oldest=oldest,
            )
        for rule_key, rows in isolated.items():
            before = found.get(rule_key, RuleReview())
            found[rule_key] = replace(before, isolated=before.isolated + rows)
    return found
