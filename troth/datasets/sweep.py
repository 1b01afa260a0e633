"""Retention sweeps over a company database, run in bounded batches (P17–P20).

What a sweep does to each unit (the fields of a collection under one rule and clock column) is
planned in :mod:`troth.datasets.steps`: at most a DELETE and an UPDATE (masks, anonymization, or
masks after the values are sealed into ``troth_isolated``) of the expired rows not yet acted on,
leaving out what legal holds keep. :func:`sweep_dataset` runs those steps and counts what it did,
what holds kept and what waits; isolated rows whose rule no longer isolates are deleted
(``released``).

Each step is run in batches: select up to ``batch_size`` primary keys of the rows the step
selects, in primary-key order after the last batch, then one UPDATE or DELETE of those keys,
committed on its own (an ``isolate`` step seals the values in the same transaction). No lock is
held longer than one batch, and since a step selects only rows not yet acted on, a sweep that
dies is finished by running it again: what was done is not done twice, and the end state is the
same.

What a sweep would do, and what each rule holds now, are counted in
:mod:`troth.datasets.review`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal,
    select,
    tuple_,
    update,
)

from troth.declaration import Policy

from . import isolation
from .holds import NO_HOLDS, Holds
from .isolation import Seal
from .reach import pk_columns
from .run import Target
from .steps import Step, Sweep

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Skipped:
    """Fields a sweep did not act on, and why (never personal data: names only)."""

    collection: str
    fields: tuple[str, ...]
    rule: str | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "fields": list(self.fields),
            "rule": self.rule,
            "reason": self.reason,
        }


@dataclass
class SweepCounts:
    """Rows a sweep acted on, per rule and action (``deleted``, ``masked``, ``anonymized``,
    ``isolated``; ``released``: isolated rows deleted because their rule no longer isolates), rows
    a legal hold kept (``held``), rows whose deletion waits for another rule with a legal basis
    (``waiting``), and what was skipped."""

    rules: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, rule: str, action: str, rows: int) -> None:
        if rows:
            counts = self.rules.setdefault(rule, {})
            counts[action] = counts.get(action, 0) + rows

    def as_json(self) -> dict[str, Any]:
        return {
            "rules": {rule: dict(counts) for rule, counts in self.rules.items()},
            "skipped": [s.as_json() for s in self.skipped],
        }


# -- running ---------------------------------------------------------------------------------


def _after(columns: list[Column[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0] > last[0]
    return tuple_(*columns) > tuple_(*(literal(v) for v in last))


def _up_to(columns: list[Column[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0] <= last[0]
    return tuple_(*columns) <= tuple_(*(literal(v) for v in last))


def _run_step(sweep: Sweep, step: Step, batch_size: int, on_batch: Callable[[int], None]) -> int:
    table = sweep.table(step.unit)
    key_columns = pk_columns(table, step.unit.collection)
    width = len(key_columns)
    extra = [column for column, _ in step.computed]
    sealed = [table.c[f.name] for f in step.isolated]
    last: tuple[Any, ...] | None = None
    total = 0
    while True:
        after = step.where if last is None else and_(step.where, _after(key_columns, last))
        query = (
            select(*key_columns, *extra, *sealed)
            .where(after)
            .order_by(*key_columns)
            .limit(batch_size)
        )
        with sweep.target.engine.begin() as conn:
            rows = list(conn.execute(query).all())
            if not rows:
                return total
            last = tuple(rows[-1][:width])
            # The batch is every row ``where`` selects between the last batch's key and this
            # one's: the statement names that range instead of listing the keys, which keeps it
            # short and its plan an index range scan on every database.
            batch = and_(after, _up_to(key_columns, last))
            if step.isolated:
                # sealed away first, in the same transaction as the masks that replace them
                assert sweep.seal is not None
                start = width + len(extra)
                isolation.isolate(
                    conn,
                    sweep.dataset,
                    step.unit.collection.name,
                    step.unit.rule.key,
                    [f.name for f in step.isolated],
                    ((tuple(row[:width]), tuple(row[start:])) for row in rows),
                    seal=sweep.seal,
                    now=sweep.now,
                )
            done = _apply(conn, table, key_columns, step, batch, rows)
        total += done
        on_batch(done)


def _apply(
    conn: Connection,
    table: Table,
    pk: list[Column[Any]],
    step: Step,
    chosen: ColumnElement[bool],
    rows: list[Any],
) -> int:
    """Carry out ``step`` on the rows ``chosen`` selects (the batch ``rows``, re-checked: a row
    changed since it was selected is left as it now is)."""
    if step.action == "deleted":
        return int(conn.execute(delete(table).where(chosen)).rowcount)
    updated = 0
    if step.sql_values:
        updated = int(conn.execute(update(table).where(chosen).values(step.sql_values)).rowcount)
    if step.computed:
        width = len(pk)
        params = []
        for row in rows:
            key = tuple(row[:width])
            old = row[width : width + len(step.computed)]
            new = [
                compute(key, value) for (_, compute), value in zip(step.computed, old, strict=True)
            ]
            if new != list(old):
                params.append(
                    {f"k{i}": v for i, v in enumerate(key)}
                    | {f"v{i}": v for i, v in enumerate(new)}
                )
        if params:
            statement = (
                update(table)
                .where(and_(*(c == bindparam(f"k{i}") for i, c in enumerate(pk))))
                .values({c: bindparam(f"v{i}") for i, (c, _) in enumerate(step.computed)})
            )
            conn.execute(statement, params)
        updated = max(updated, len(params))
    return updated


def _count(conn: Connection, table: Table, where: ColumnElement[bool]) -> int:
    return int(conn.scalar(select(func.count()).select_from(table).where(where)) or 0)


def sweep_dataset(
    target: Target,
    policy: Policy,
    now: datetime,
    holds: Holds = NO_HOLDS,
    *,
    hash_key: bytes,
    seal: Seal | None = None,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> SweepCounts:
    """Carry out every retention rule of ``target``'s dataset as of ``now``, batch by batch,
    each batch committed on its own. ``progress(done, total)`` is called after each batch (total
    is an estimate counted at the start). Running it again after a failure finishes the work.
    ``hash_key`` is the key of the ``hash`` mask (the same key erasure uses); ``seal`` encrypts
    what an ``isolate`` rule moves to ``troth_isolated`` (``Keyring.seal_isolated``)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    sweep = Sweep(target, policy, now, holds, seal)
    result = SweepCounts()
    for issue in sweep.issues:
        if issue.severity == "error":
            result.skipped.append(
                Skipped(issue.collection, (issue.field,), issue.rule, issue.message)
            )
    plan = [(unit, sweep.steps(unit, hash_key)) for unit in sweep.units]
    isolating = any(step.isolated for _, steps in plan for step in steps)
    if isolating:
        if seal is None:
            raise ValueError("a sweep that isolates data needs seal (the master key's)")
        isolation.ensure_table(target.engine)
    _release(sweep, result)
    with target.engine.connect() as conn:
        for unit in sweep.units:
            if not unit.fields:
                continue  # nothing the sweep can do here: reported in skipped
            table = sweep.table(unit)
            held = sweep.held_condition(unit)
            if held is not None:
                result.add(
                    unit.rule.key, "held", _count(conn, table, and_(sweep.expired(unit), held))
                )
            waiting = sweep.waiting(unit)
            if waiting is not None:
                result.add(unit.rule.key, "waiting", _count(conn, table, waiting))
        total = 0
        if progress is not None:
            for unit, steps in plan:
                for step in steps:
                    total += _count(conn, sweep.table(unit), step.where)
    done = 0

    def on_batch(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, max(total, done))

    for unit, steps in plan:
        for step in steps:
            rows = _run_step(sweep, step, batch_size, on_batch)
            result.add(unit.rule.key, step.action, rows)
    if progress is not None:
        progress(done, done)  # finished: the estimate gives way to what was done
    return result


def _release(sweep: Sweep, result: SweepCounts) -> None:
    """The final delete of isolated rows whose rule no longer isolates (a later declaration
    changed its action or dropped the rule): counted as ``released`` under that rule."""
    collections = [c.name for c in sweep.dataset.collections]
    isolating = [r.key for r in sweep.policy.retention_rules.values() if r.action == "isolate"]
    with sweep.target.engine.begin() as conn:
        for rule, rows in isolation.release(conn, collections, isolating).items():
            result.add(rule, "released", rows)
