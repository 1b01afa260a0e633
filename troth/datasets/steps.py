"""What a retention sweep does over a company database, as SQL: which rows each rule's clock has
run out on, and what is written over them (P17–P20).

The fields of a collection under one retention rule and clock column form a *unit*
(:mod:`troth.datasets.units`, which also says when a row's field has expired and which fields a
sweep cannot act on). Each unit is acted on as its rule says:

- ``delete``: each expired field gets its mask (``nullify``, ``fixed``, ``hash``); when the unit
  has a ``delete_row`` field, the expired row is deleted, unless another field of the row is still
  kept by a rule with a legal basis (then the row waits, and its other fields are masked).
- ``anonymize``: the row is kept, its direct identifiers removed and its quasi-identifiers
  generalised (:mod:`troth.datasets.anonymize`).
- ``isolate``: the expired fields' values are sealed into ``troth_isolated`` in the same database
  and each field gets its mask (:mod:`troth.datasets.isolation`); the auditor alone reads them,
  through troth.

Legal holds (:class:`~troth.datasets.holds.Holds`) take rows and fields out of reach; lifting a
hold lets the next sweep act.

:class:`Sweep` gives each unit's conditions and its steps (:class:`Step`): the rows that have
expired and are *not yet acted on* (a nullified column is NULL, a hashed one already holds a keyed
hash, a deleted row is gone), and the DELETE or UPDATE that acts on them.
:mod:`troth.datasets.sweep` runs the steps in batches, and :mod:`troth.datasets.review` counts
over the same conditions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Table,
    and_,
    cast,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    true,
)

from troth.declaration import Policy
from troth.declaration.model import RetentionRule

from .anonymize import Treatment, treatment
from .hashing import HASH_LENGTH, HASH_PREFIX, is_keyed_hash, keyed_hash
from .holds import Holds, PrimaryKeys
from .isolation import Seal
from .model import Field
from .reach import pk_columns, pk_in
from .run import Target
from .units import Unit, is_date, is_text, units_of

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


# -- what each unit does ---------------------------------------------------------------------


@dataclass
class Step:
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
        return pk_in(pk_columns(self.table(unit), unit.collection), keys)

    def due(self, unit: Unit) -> ColumnElement[bool]:
        """Expired rows of ``unit``, leaving out the rows of held subjects."""
        expired = self.expired(unit)
        excluded = self.excluded(unit)
        return expired if excluded is None else and_(expired, not_(excluded))

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

    def steps(self, unit: Unit, hash_key: bytes) -> list[Step]:
        """What the sweep does for ``unit``: at most a DELETE step and an UPDATE step."""
        if self.collection_held(unit):
            return []
        base = self.due(unit)
        fields = self.free_fields(unit)
        table = self.table(unit)
        steps: list[Step] = []
        if unit.rule.action == "delete":
            left = base  # the expired rows the DELETE (if any) leaves, for the masks
            if self.deletes_rows(unit) and not self.category_held_in_collection(unit):
                blocked = self.blocked(unit)
                where = base if blocked is None else and_(base, not_(blocked))
                steps.append(Step(unit, "deleted", where))
                if blocked is None:
                    return steps  # every expired row is deleted: nothing is left to mask
                left = and_(base, blocked)
            masked = [f for f in fields if f.mask != "delete_row"]
            if masked:
                step = Step(
                    unit, "masked", and_(left, or_(*(self.pending(unit, f) for f in masked)))
                )
                step.mask(table, masked, hash_key)
                steps.append(step)
            return steps
        if unit.rule.action == "isolate":
            if fields:
                step = Step(
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
            step = Step(
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

    def waiting(self, unit: Unit) -> ColumnElement[bool] | None:
        """Due rows of ``unit`` whose deletion waits for another rule with a legal basis
        (:meth:`blocked`), or None when the unit deletes no rows, nothing can make them wait, or
        a legal hold already keeps them (they are counted as held, not also as waiting)."""
        if not self.deletes_rows(unit) or self.collection_held(unit):
            return None
        if self.category_held_in_collection(unit):
            return None
        blocked = self.blocked(unit)
        return None if blocked is None else and_(self.due(unit), blocked)

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
