"""What a retention sweep can do with each field of a dataset (P17–P20).

A dataset field under a retention rule (``troth: {retention: RULE}``) has a clock: the field's or
its collection's ``timestamp`` column. A row's field has *expired* when that column is not NULL
and earlier than now minus the rule's period (NULL: the clock has not started). The fields of a
collection are grouped into *units*, one per rule and clock column; :mod:`troth.datasets.steps`
says what a sweep does with each unit as its rule says, :mod:`troth.datasets.sweep` does it, and
:mod:`troth.datasets.review` counts what it would do.

Every field under a rule is checked for what stops a sweep from carrying the rule out: a rule the
declaration does not declare, no clock (or a clock column not in the table), a primary key or
read_only field, the clock of another rule, an isolate rule on a field masked delete_row or that
rows are found by, a column that cannot take the mask or the anonymization. Such a field is an
error: the sweep leaves it alone (when its rule and clock are known, the plan and the review still
count its rows). A field under a rule that holds no personal data is a warning, and sweeps leave
it alone too. :func:`sweep_problems` reports these from the file and the declaration alone; with
the reflected database, the columns are checked as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Column, Date, DateTime, String, Table

from troth.declaration import Policy
from troth.declaration.model import RetentionRule
from troth.declaration.problems import Path, Problem

from .anonymize import treatment
from .hashing import HASH_LENGTH
from .model import Collection, Dataset, Field

# the databases on which a sweep can write the start of a date's year (anonymizing a date)
_YEAR_DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")


@dataclass(frozen=True)
class Issue:
    """A problem with one field under a retention rule: an error stops the sweep acting on it."""

    collection: str
    field: str
    rule: str | None
    path: Path
    severity: Literal["error", "warning"]
    message: str


@dataclass(frozen=True)
class Unit:
    """The fields of a collection under one retention rule and clock column."""

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


def is_text(column: Column[Any]) -> bool:
    """Whether ``column`` holds text."""
    return isinstance(column.type, String)


def is_date(column: Column[Any]) -> bool:
    """Whether ``column`` holds a date or a date and time."""
    return isinstance(column.type, Date | DateTime)


def _holds_hash(column: Column[Any]) -> bool:
    length = getattr(column.type, "length", None)
    return is_text(column) and (length is None or length >= HASH_LENGTH)


def units_of(
    dataset: Dataset,
    policy: Policy,
    tables: dict[str, Table] | None = None,
    dialect: str = "",
) -> tuple[list[Unit], list[Issue]]:
    """The units of ``dataset`` and every problem found with its fields; with ``tables`` (the
    reflected database), the columns are checked too."""
    units: list[Unit] = []
    issues: list[Issue] = []
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
                    Issue(collection.name, f.name, f.retention, f.path, severity,
                           f"{where}: {message}")
                )  # fmt: skip
            if clocked:
                assert rule is not None and stamp is not None
                active, idle = groups.setdefault((rule.key, stamp), ([], []))
                (active if found is None else idle).append(f)
        for (key, stamp), (active, idle) in groups.items():
            rule = policy.retention_rules[key]
            units.append(Unit(collection, rule, stamp, tuple(active), tuple(idle)))
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
    kind = treatment(f, is_date=is_date(column), is_text=is_text(column))
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
    _, issues = units_of(dataset, policy)
    # A field's path is already from the top of the file (Dataset.problem would prefix it again).
    places = [dataset.positions.locate(i.path) for i in issues]
    return [
        Problem(dataset.file, line, column, i.severity, i.message)
        for i, (line, column) in zip(issues, places, strict=True)
    ]
