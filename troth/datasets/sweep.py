"""Retention sweeps over a company database: what each rule's clock has run out on, acted on in
bounded batches (P17–P20).

A dataset field under a retention rule (``troth: {retention: RULE}``) has a clock: the field's or
its collection's ``timestamp`` column. A row's field has *expired* when that column is not NULL
and earlier than now minus the rule's period (NULL: the clock has not started). The fields of a
collection are grouped into *units*, one per rule and clock column, and each unit is acted on as
its rule says:

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Date,
    DateTime,
    String,
    Table,
    and_,
    bindparam,
    case,
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
from troth.declaration.durations import month_ends
from troth.declaration.model import RetentionRule
from troth.declaration.problems import Path, Problem

from . import isolation
from .anonymize import Treatment, treatment
from .hashing import HASH_LENGTH, HASH_PREFIX, is_keyed_hash, keyed_hash
from .holds import NO_HOLDS, Holds, PrimaryKeys
from .isolation import Seal
from .model import Collection, Dataset, Field
from .run import Target

Progress = Callable[[int, int], None]
MONTHS = 12


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


# -- units: the fields of a collection under one rule and clock ------------------------------


@dataclass(frozen=True)
class _Issue:
    collection: str
    field: str
    rule: str | None
    path: Path
    severity: Literal["error", "warning"]
    message: str


@dataclass(frozen=True)
class _Unit:
    collection: Collection
    rule: RetentionRule
    stamp: str
    fields: tuple[Field, ...]  # the fields the sweep can act on (no error found)
    # fields under the rule and clock that the sweep cannot act on (isolate, say): the plan and
    # the review still count their rows
    idle: tuple[Field, ...] = ()


def _clock_of_others(collection: Collection, f: Field) -> bool:
    """Whether ``f``'s column is the clock of a unit other than ``f``'s own: writing it would
    move that clock."""
    own = (f.retention, f.timestamp or collection.timestamp)
    return any(
        (g.timestamp or collection.timestamp) == f.name and (g.retention, f.name) != own
        for g in collection.fields
        if g.retention is not None
    )


def _is_text(column: Column[Any]) -> bool:
    return isinstance(column.type, String)


def _is_date(column: Column[Any]) -> bool:
    return isinstance(column.type, Date | DateTime)


def _holds_hash(column: Column[Any]) -> bool:
    length = getattr(column.type, "length", None)
    return _is_text(column) and (length is None or length >= HASH_LENGTH)


def _units(
    dataset: Dataset,
    policy: Policy,
    tables: dict[str, Table] | None = None,
    dialect: str = "",
) -> tuple[list[_Unit], list[_Issue]]:
    """The units of ``dataset`` and every problem found with its fields; with ``tables`` (the
    reflected database), the columns are checked too."""
    units: list[_Unit] = []
    issues: list[_Issue] = []
    found_by = _found_by(dataset)
    for collection in dataset.collections:
        table = tables[collection.name] if tables is not None else None
        groups: dict[tuple[str, str], tuple[list[Field], list[Field]]] = {}
        for f in collection.fields:
            if f.retention is None:
                continue
            found = _field_problem(collection, f, policy, table, dialect, found_by)
            rule = policy.retention_rules.get(f.retention)
            stamp = f.timestamp or collection.timestamp
            clocked = (
                f.personal
                and rule is not None
                and stamp is not None
                and (table is None or stamp in table.c)
            )
            if found is not None:
                severity, message = found
                where = f"{collection.name}.{f.name}"
                issues.append(
                    _Issue(collection.name, f.name, f.retention, f.path, severity,
                           f"{where}: {message}")
                )  # fmt: skip
            if clocked:
                assert rule is not None and stamp is not None
                active, idle = groups.setdefault((rule.key, stamp), ([], []))
                (active if found is None else idle).append(f)
        for (key, stamp), (active, idle) in groups.items():
            rule = policy.retention_rules[key]
            units.append(_Unit(collection, rule, stamp, tuple(active), tuple(idle)))
    return units, issues


def _found_by(dataset: Dataset) -> set[tuple[str, str]]:
    """The columns rows are found by: identities, and both ends of every reference."""
    found = {(c.name, f.name) for c in dataset.collections for f in c.identities}
    for edge in dataset.edges:
        found.add((edge.source, edge.source_field))
        found.add((edge.target, edge.target_field))
    return found


def _field_problem(
    collection: Collection,
    f: Field,
    policy: Policy,
    table: Table | None,
    dialect: str,
    found_by: set[tuple[str, str]],
) -> tuple[Literal["error", "warning"], str] | None:
    """Why the sweep cannot carry out ``f``'s retention rule, or None when it can."""
    if not f.personal:
        return (
            "warning",
            f"falls under retention rule {f.retention} but holds no personal data (no user "
            "category); retention sweeps leave it alone",
        )
    rule = policy.retention_rules.get(f.retention or "")
    if rule is None:
        return (
            "error",
            f"names retention rule {f.retention}, which the declaration does not declare",
        )
    stamp = f.timestamp or collection.timestamp
    if stamp is None:
        return (
            "error",
            f"retention rule {rule.key} has no clock here: give the field or its collection a "
            "troth timestamp (the column its period counts from)",
        )
    if table is not None and stamp not in table.c:
        return "error", f"the clock column {stamp} of retention rule {rule.key} is not in the table"
    if rule.action == "isolate" and f.mask == "delete_row":
        return (
            "error",
            f"retention rule {rule.key} isolates it, which keeps the row and moves the value "
            "out of reach; give it mask nullify, fixed or hash",
        )
    if rule.action == "isolate" and (collection.name, f.name) in found_by:
        return (
            "error",
            f"retention rule {rule.key} isolates it, but rows are found by it (an identity or "
            "a reference): its isolated values could no longer be tied to their subject; give "
            "it a rule that deletes or anonymizes",
        )
    if f.primary_key:
        return "error", "is a primary key: a retention sweep cannot mask or anonymize it"
    if f.read_only:
        return "error", f"is read_only, so retention rule {rule.key} cannot be carried out on it"
    deletes_row = rule.action == "delete" and f.mask == "delete_row"
    if not deletes_row and _clock_of_others(collection, f):
        return (
            "error",
            f"is the clock of another retention rule in {collection.name}: masking or "
            "anonymizing it would move that clock; give it mask delete_row, or the other rule "
            "a clock of its own",
        )
    if table is not None:
        problem = _column_problem(f, rule, table.c[f.name], dialect)
        if problem is not None:
            return "error", problem
    return None


def _column_problem(f: Field, rule: RetentionRule, column: Column[Any], dialect: str) -> str | None:
    if rule.action in ("delete", "isolate"):
        if f.mask == "nullify" and not column.nullable:
            return (
                "is NOT NULL, so mask nullify cannot be carried out; use fixed, hash or delete_row"
            )
        if f.mask == "hash" and not _holds_hash(column):
            return (
                f"mask hash needs a text column of at least {HASH_LENGTH} characters to hold the "
                "keyed hash"
            )
        return None
    kind = treatment(f, is_date=_is_date(column), is_text=_is_text(column))
    if kind == "remove" and not column.nullable and not _holds_hash(column):
        return (
            f"is NOT NULL and not a text column of at least {HASH_LENGTH} characters, so "
            "anonymizing cannot remove it; make the column nullable"
        )
    if kind == "year" and dialect not in _YEAR_DIALECTS:
        return f"anonymizing a date on {dialect or 'this database'} is not supported"
    return None


def sweep_problems(dataset: Dataset, policy: Policy) -> list[Problem]:
    """What stops a retention sweep from carrying out the declaration's rules on ``dataset``,
    found from the file and the declaration alone, each placed at its field in the file."""
    _, issues = _units(dataset, policy)
    # A field's path is already from the top of the file (Dataset.problem would prefix it again).
    places = [dataset.positions.locate(i.path) for i in issues]
    return [
        Problem(dataset.file, line, column, i.severity, i.message)
        for i, (line, column) in zip(issues, places, strict=True)
    ]


# -- SQL pieces -------------------------------------------------------------------------------


_YEAR_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")


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


def _cutoff(rule: RetentionRule, moment: datetime, column: Column[Any]) -> datetime:
    cutoff = rule.period.subtract_from(moment)
    if not getattr(column.type, "timezone", False):
        cutoff = cutoff.replace(tzinfo=None)
    return cutoff


def _aware(now: datetime) -> datetime:
    return (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(UTC)


def _pk(table: Table, collection: Collection) -> list[Column[Any]]:
    return [table.c[name] for name in collection.primary_key]


def _pk_in(columns: list[Column[Any]], keys: list[tuple[Any, ...]]) -> ColumnElement[bool]:
    if not keys:
        return false()
    if len(columns) == 1:
        return columns[0].in_([k[0] for k in keys])
    return tuple_(*columns).in_(keys)


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

    unit: _Unit
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


class _Sweep:
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
        self.now = _aware(now)
        self.holds = holds
        self.dialect = target.engine.dialect.name
        self.units, self.issues = _units(self.dataset, policy, target.tables, self.dialect)
        self.held_keys: PrimaryKeys = holds.held_rows(target)

    def table(self, unit: _Unit) -> Table:
        return self.target.tables[unit.collection.name]

    def stamp(self, unit: _Unit) -> Column[Any]:
        return self.table(unit).c[unit.stamp]

    def expired(self, unit: _Unit, moment: datetime | None = None) -> ColumnElement[bool]:
        stamp = self.stamp(unit)
        cutoff = _cutoff(unit.rule, moment or self.now, stamp)
        return and_(stamp.is_not(None), stamp < cutoff)

    def excluded(self, unit: _Unit) -> ColumnElement[bool] | None:
        """Rows of held subjects, or None when there are none in this collection."""
        keys = self.held_keys.get(unit.collection.name)
        if not keys:
            return None
        return _pk_in(_pk(self.table(unit), unit.collection), keys)

    def collection_held(self, unit: _Unit) -> bool:
        return self.holds.holds_collection(self.dataset, unit.collection)

    def free_fields(self, unit: _Unit) -> list[Field]:
        return [f for f in unit.fields if not self.holds.holds_field(f)]

    def pending(self, unit: _Unit, f: Field) -> ColumnElement[bool]:
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

    def present(self, unit: _Unit, f: Field) -> ColumnElement[bool]:
        """Rows where ``f`` still holds data under the unit's rule (for the review)."""
        column = self.table(unit).c[f.name]
        if unit.rule.action == "delete" and f.mask == "fixed":
            return and_(column.is_not(None), column != literal(f.value, type_=column.type))
        return self.pending(unit, f)

    def treatment(self, unit: _Unit, f: Field) -> Treatment:
        column = self.table(unit).c[f.name]
        return treatment(f, is_date=_is_date(column), is_text=_is_text(column))

    def blocked(self, unit: _Unit) -> ColumnElement[bool] | None:
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
            cutoff = _cutoff(other.rule, self.now, stamp)
            conditions.append(or_(stamp.is_(None), stamp >= cutoff))
        return or_(*conditions) if conditions else None

    def deletes_rows(self, unit: _Unit) -> bool:
        return unit.rule.action == "delete" and any(f.mask == "delete_row" for f in unit.fields)

    def category_held_in_collection(self, unit: _Unit) -> bool:
        return any(self.holds.holds_field(f) for f in unit.collection.personal)

    def steps(self, unit: _Unit, hash_key: bytes) -> list[_Step]:
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

    def held_condition(self, unit: _Unit) -> ColumnElement[bool] | None:
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


def _run_step(sweep: _Sweep, step: _Step, batch_size: int, on_batch: Callable[[int], None]) -> int:
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
    sweep = _Sweep(target, policy, now, holds, seal)
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


def _release(sweep: _Sweep, result: SweepCounts) -> None:
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


# -- planning and review ---------------------------------------------------------------------


def plan_dataset(
    target: Target, policy: Policy, now: datetime, holds: Holds = NO_HOLDS
) -> dict[str, list[int]]:
    """Per rule: rows a sweep would act on now, then rows that expire in each of the next twelve
    months (by the end of this month, of next month, ...), leaving out what holds keep. One query
    per unit (a collection's fields under one rule and clock column)."""
    sweep = _Sweep(target, policy, now, holds)
    plan: dict[str, list[int]] = {}
    ends = month_ends(now, MONTHS)
    with target.engine.connect() as conn:
        for unit in sweep.units:
            counts = plan.setdefault(unit.rule.key, [0] * (len(ends) + 1))
            if sweep.collection_held(unit):
                continue
            table = sweep.table(unit)
            stamp = sweep.stamp(unit)
            cutoffs = [_cutoff(unit.rule, m, stamp) for m in [sweep.now, *ends]]
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
    sweep = _Sweep(target, policy, now, NO_HOLDS)
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
            oldest = _aware(row[3]) if row[3] is not None else None
            if before.oldest is not None and (oldest is None or before.oldest < oldest):
                oldest = before.oldest
            found[unit.rule.key] = RuleReview(
                rows=before.rows + int(row[0]),
                overdue=before.overdue + int(row[1]),
                unstarted=before.unstarted + int(row[2]),
                oldest=oldest,
            )
        for rule_key, (rows, _) in isolated.items():
            before = found.get(rule_key, RuleReview())
            found[rule_key] = replace(before, isolated=before.isolated + rows)
    return found
