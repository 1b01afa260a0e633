"""Retention sweeps over a company database: what each rule's clock has run out on, acted on in
bounded batches (P17–P20).

The fields of a collection under one retention rule and clock column form a *unit*
(:mod:`troth.datasets.units`, which also says when a row's field has expired and which fields a
sweep cannot act on). Each unit is acted on as its rule says:

- ``delete``: each expired field gets its mask (``nullify``, ``fixed``, ``hash``); when the unit
  has a ``delete_row`` field, the expired row is deleted, unless another field of the row is still
  kept by a rule with a legal basis (then the row waits, and its other fields are masked).
- ``anonymize``: the row is kept, its direct identifiers removed and its quasi-identifiers
  generalised (:mod:`troth.datasets.anonymize`).
- ``isolate``: the expired fields' values are sealed into ``troth_isolated`` in the same database
  and each field gets its mask, in one transaction per batch (:mod:`troth.datasets.isolation`);
  the auditor alone reads them, through troth. Isolated rows whose rule no longer isolates are
  deleted (``released``).

Legal holds (:class:`~troth.datasets.holds.Holds`) take rows and fields out of reach; lifting a
hold lets the next sweep act.

Each unit is swept in batches: select up to ``batch_size`` primary keys of rows that have expired
and are *not yet acted on* (a nullified column is NULL, a hashed one already holds a keyed hash, a
deleted row is gone), in primary-key order after the last batch, then one UPDATE or DELETE of
those keys, committed on its own. No lock is held longer than one batch, and a sweep that dies is
finished by running it again: what was done is not done twice, and the end state is the same.

What a sweep would do, and what each rule holds now, are counted in
:mod:`troth.datasets.review`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
    update,
)

from troth.declaration import Policy
from troth.declaration.model import RetentionRule

from . import isolation
from .anonymize import Treatment, treatment
from .hashing import HASH_LENGTH, HASH_PREFIX, is_keyed_hash, keyed_hash
from .holds import NO_HOLDS, Holds, PrimaryKeys
from .isolation import Seal
from .model import Field
from .reach import pk_columns as _pk
from .reach import pk_in as _pk_in
from .run import Target
from .units import Unit, is_date, is_text, units_of

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


# -- SQL pieces -------------------------------------------------------------------------------


def _year_start(column: Column[Any], dialect: str) -> ColumnElement[Any]:
    """The first moment of the year of ``column``'s value, as a value of the column's type."""
    is_datetime = isinstance(column.type, DateTime)
    if dialect == "sqlite":
        # SQLAlchemy stores SQLite dates as ISO text; keep its format.
        pattern = "%Y-01-01 00:00:00.000000" if is_datetime else "%Y-01-01"
        return func.strftime(pattern, column)
    if dialect == "postgresql":
        return cast(func.date_trunc("year", column), column.type)
    start = func.makedate(func.year(column), 1)  # MySQL and MariaDB
    return func.timestamp(start) if is_datetime else start


def _hashed(column: Column[Any]) -> ColumnElement[bool]:
    return and_(column.like(HASH_PREFIX + "%"), func.length(column) == HASH_LENGTH)


def rule_cutoff(rule: RetentionRule, moment: datetime, column: Column[Any]) -> datetime:
    """The moment a clock in ``column`` must be earlier than to have run out under ``rule`` at
    ``moment`` (naive when the column is)."""
    cutoff = rule.period.subtract_from(moment)
    if not getattr(column.type, "timezone", False):
        cutoff = cutoff.replace(tzinfo=None)
    return cutoff


def as_utc(now: datetime) -> datetime:
    """``now`` in UTC, a naive time being taken as UTC."""
    return (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(UTC)


def _after(columns: list[Column[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0] > last[0]
    return tuple_(*columns) > tuple_(*(literal(v) for v in last))


def _up_to(columns: list[Column[Any]], last: tuple[Any, ...]) -> ColumnElement[bool]:
    if len(columns) == 1:
        return columns[0] <= last[0]
    return tuple_(*columns) <= tuple_(*(literal(v) for v in last))


# -- what each unit does ---------------------------------------------------------------------


@dataclass
class _Step:
    """One set-based action over a unit's rows: a DELETE, or an UPDATE with SQL values and values
    computed here (keyed hashes), applied to the rows ``where`` selects, batch by batch."""

    unit: Unit
    action: str  # deleted | masked | anonymized | isolated
    where: ColumnElement[bool]
    sql_values: dict[Column[Any], Any] = field(default_factory=dict)
    # (column, compute(pk, value) -> new value) for values computed in Python
    computed: list[tuple[Column[Any], Callable[[tuple[Any, ...], Any], Any]]] = field(
        default_factory=list
    )
    # fields whose values are sealed into troth_isolated before the masks are written
    isolated: tuple[Field, ...] = ()

    def mask(self, table: Table, fields: list[Field], hash_key: bytes) -> None:
        """Write each field's mask (nullify, fixed, hash) over its value."""
        for f in fields:
            column = table.c[f.name]
            if f.mask == "nullify":
                self.sql_values[column] = null()
            elif f.mask == "fixed":
                self.sql_values[column] = literal(f.value, type_=column.type)
            else:
                self.computed.append((column, _value_hash(hash_key)))


class Sweep:
    """The units of one dataset bound to its database, under the holds in force."""

    def __init__(
        self,
        target: Target,
        policy: Policy,
        now: datetime,
        holds: Holds,
        seal: Seal | None = None,
    ) -> None:
        self.target = target
        self.seal = seal
        self.dataset = target.dataset
        self.policy = policy
        self.now = as_utc(now)
        self.holds = holds
        self.dialect = target.engine.dialect.name
        self.units, self.issues = units_of(self.dataset, policy, target.tables, self.dialect)
        self.held_keys: PrimaryKeys = holds.held_rows(target)

    def table(self, unit: Unit) -> Table:
        return self.target.tables[unit.collection.name]

    def stamp(self, unit: Unit) -> Column[Any]:
        return self.table(unit).c[unit.stamp]

    def expired(self, unit: Unit, moment: datetime | None = None) -> ColumnElement[bool]:
        stamp = self.stamp(unit)
        cutoff = rule_cutoff(unit.rule, moment or self.now, stamp)
        return and_(stamp.is_not(None), stamp < cutoff)

    def excluded(self, unit: Unit) -> ColumnElement[bool] | None:
        """Rows of held subjects, or None when there are none in this collection."""
        keys = self.held_keys.get(unit.collection.name)
        if not keys:
            return None
        return _pk_in(_pk(self.table(unit), unit.collection), keys)

    def collection_held(self, unit: Unit) -> bool:
        return self.holds.holds_collection(self.dataset, unit.collection)

    def free_fields(self, unit: Unit) -> list[Field]:
        return [f for f in unit.fields if not self.holds.holds_field(f)]

    def pending(self, unit: Unit, f: Field) -> ColumnElement[bool]:
        """Rows where ``f`` has not been acted on yet under the unit's rule."""
        column = self.table(unit).c[f.name]
        if unit.rule.action == "anonymize":
            kind = self.treatment(unit, f)
            if kind == "remove":
                return column.is_not(None) if column.nullable else not_(_hashed(column))
            if kind == "postal_code":
                return and_(column.is_not(None), func.length(column) > 3)
            if kind == "year":
                return and_(column.is_not(None), column != _year_start(column, self.dialect))
            return false()
        if f.mask == "nullify":
            return column.is_not(None)
        if f.mask == "fixed":
            return or_(column.is_(None), column != literal(f.value, type_=column.type))
        if f.mask == "hash":
            return and_(column.is_not(None), not_(_hashed(column)))
        return true()  # delete_row: the row is there

    def present(self, unit: Unit, f: Field) -> ColumnElement[bool]:
        """Rows where ``f`` still holds data under the unit's rule (for the review)."""
        column = self.table(unit).c[f.name]
        if unit.rule.action == "delete" and f.mask == "fixed":
            return and_(column.is_not(None), column != literal(f.value, type_=column.type))
        return self.pending(unit, f)

    def treatment(self, unit: Unit, f: Field) -> Treatment:
        column = self.table(unit).c[f.name]
        return treatment(f, is_date=is_date(column), is_text=is_text(column))

    def blocked(self, unit: Unit) -> ColumnElement[bool] | None:
        """Rows whose deletion must wait: another field of the row is still kept by a rule with
        a legal basis (or its clock has not started)."""
        table = self.table(unit)
        collection = unit.collection
        conditions = []
        for other in self.units:
            if other.collection is not collection or other is unit:
                continue
            if other.rule.legal_basis is None:
                continue
            stamp = table.c[other.stamp]
            cutoff = rule_cutoff(other.rule, self.now, stamp)
            conditions.append(or_(stamp.is_(None), stamp >= cutoff))
        return or_(*conditions) if conditions else None

    def deletes_rows(self, unit: Unit) -> bool:
        return unit.rule.action == "delete" and any(f.mask == "delete_row" for f in unit.fields)

    def category_held_in_collection(self, unit: Unit) -> bool:
        return any(self.holds.holds_field(f) for f in unit.collection.personal)

    def steps(self, unit: Unit, hash_key: bytes) -> list[_Step]:
        """What the sweep does for ``unit``: at most a DELETE step and an UPDATE step."""
        if self.collection_held(unit):
            return []
        base = self.expired(unit)
        excluded = self.excluded(unit)
        if excluded is not None:
            base = and_(base, not_(excluded))
        fields = self.free_fields(unit)
        table = self.table(unit)
        steps: list[_Step] = []
        if unit.rule.action == "delete":
            left = base  # the expired rows the DELETE (if any) leaves, for the masks
            if self.deletes_rows(unit) and not self.category_held_in_collection(unit):
                blocked = self.blocked(unit)
                where = base if blocked is None else and_(base, not_(blocked))
                steps.append(_Step(unit, "deleted", where))
                if blocked is None:
                    return steps  # every expired row is deleted: nothing is left to mask
                left = and_(base, blocked)
            masked = [f for f in fields if f.mask != "delete_row"]
            if masked:
                step = _Step(
                    unit, "masked", and_(left, or_(*(self.pending(unit, f) for f in masked)))
                )
                step.mask(table, masked, hash_key)
                steps.append(step)
            return steps
        if unit.rule.action == "isolate":
            if fields:
                step = _Step(
                    unit,
                    "isolated",
                    and_(base, or_(*(self.pending(unit, f) for f in fields))),
                    isolated=tuple(fields),
                )
                step.mask(table, fields, hash_key)
                steps.append(step)
            return steps
        acted = [f for f in fields if self.treatment(unit, f) != "keep"]
        if acted:
            step = _Step(
                unit, "anonymized", and_(base, or_(*(self.pending(unit, f) for f in acted)))
            )
            for f in acted:
                column = table.c[f.name]
                kind = self.treatment(unit, f)
                if kind == "remove" and column.nullable:
                    step.sql_values[column] = null()
                elif kind == "remove":
                    step.computed.append(
                        (column, _row_hash(hash_key, unit.collection.name, f.name))
                    )
                elif kind == "postal_code":
                    step.sql_values[column] = func.substr(column, 1, 3)
                else:
                    step.sql_values[column] = _year_start(column, self.dialect)
            steps.append(step)
        return steps

    def held_condition(self, unit: Unit) -> ColumnElement[bool] | None:
        """Expired rows of ``unit`` in which a hold keeps something, or None when no hold
        touches the unit."""
        if self.collection_held(unit):
            return true()
        if any(self.holds.holds_field(f) for f in unit.fields):
            return true()
        if self.deletes_rows(unit) and self.category_held_in_collection(unit):
            return true()
        return self.excluded(unit)


def _value_hash(key: bytes) -> Callable[[tuple[Any, ...], Any], Any]:
    def compute(pk: tuple[Any, ...], value: Any) -> Any:
        if value is None or is_keyed_hash(value):
            return value
        return keyed_hash(key, value)

    return compute


def _row_hash(key: bytes, collection: str, name: str) -> Callable[[tuple[Any, ...], Any], Any]:
    """A removed NOT NULL value's replacement: a keyed hash of the row's primary key, so nothing
    of the value is left, and distinct rows keep distinct values."""

    def compute(pk: tuple[Any, ...], value: Any) -> Any:
        if is_keyed_hash(value):
            return value
        return keyed_hash(key, f"anonymized {collection}.{name} " + "|".join(map(repr, pk)))

    return compute


# -- running ---------------------------------------------------------------------------------


def _run_step(sweep: Sweep, step: _Step, batch_size: int, on_batch: Callable[[int], None]) -> int:
    table = sweep.table(step.unit)
    pk = _pk(table, step.unit.collection)
    width = len(pk)
    extra = [column for column, _ in step.computed]
    sealed = [table.c[f.name] for f in step.isolated]
    last: tuple[Any, ...] | None = None
    total = 0
    while True:
        after = step.where if last is None else and_(step.where, _after(pk, last))
        query = select(*pk, *extra, *sealed).where(after).order_by(*pk).limit(batch_size)
        with sweep.target.engine.begin() as conn:
            rows = list(conn.execute(query).all())
            if not rows:
                return total
            # The batch is every row ``where`` selects between the last batch's key and this
            # one's: the statement names that range instead of listing the keys, which keeps it
            # short and its plan an index range scan on every database.
            batch = and_(after, _up_to(pk, tuple(rows[-1][:width])))
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
            done = _apply(conn, table, pk, step, batch, rows)
        total += done
        last = tuple(rows[-1][:width])
        on_batch(done)


def _apply(
    conn: Connection,
    table: Table,
    pk: list[Column[Any]],
    step: _Step,
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
        for unit, _ in plan:
            if not unit.fields:
                continue  # nothing the sweep can do here: reported in skipped
            table = sweep.table(unit)
            held = sweep.held_condition(unit)
            if held is not None:
                result.add(
                    unit.rule.key, "held", _count(conn, table, and_(sweep.expired(unit), held))
                )
            if sweep.deletes_rows(unit):
                blocked = sweep.blocked(unit)
                if blocked is not None and not sweep.collection_held(unit):
                    waiting = and_(sweep.expired(unit), blocked)
                    excluded = sweep.excluded(unit)
                    if excluded is not None:
                        waiting = and_(waiting, not_(excluded))
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
        before = isolation.per_rule(conn, collections)
        if any(rule not in isolating for rule in before):
            isolation.release(conn, collections, isolating)
            for rule, (rows, _) in before.items():
                if rule not in isolating:
                    result.add(rule, "released", rows)
