"""The reference model for the dataset runner's property tests: which rows a person reaches,
and what erasure must leave of them, computed in Python without the runner.

:func:`reachable` is the least fixpoint of the reachability rule: a row is reached when an
identity column holds one of the person's values, or when a reference column equals the
referenced column of a reached row (NULL never matches). :func:`expected_after_erasure` is what
each row must look like after erasure, :func:`kept` what a legal retention rule holds and
:func:`deleted` how many rows each collection loses. The schemas and rows come from
:mod:`dataset_gen`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataset_gen import HASH_KEY, NOW, Column, Edge, Row, Rows, Schema, Table

from troth.datasets.hashing import is_keyed_hash, keyed_hash

# Kestrel's retention rules (examples/kestrel/privacy.yaml): years each legal one holds a field.
LEGAL_RULE_YEARS = {"financial_records": 7, "project_data": 5}


def reachable(
    schema: Schema, rows: Rows, identities: Mapping[str, Sequence[Any]]
) -> dict[str, set[tuple[Any, ...]]]:
    """Primary keys of the rows reachable from the identities: the least fixpoint of one step."""
    reached: dict[str, set[tuple[Any, ...]]] = {t.name: set() for t in schema.tables}
    edges = schema.edges()
    grew = True
    while grew:
        grew = False
        for table in schema.tables:
            for pk, row in rows[table.name].items():
                if pk in reached[table.name]:
                    continue
                if _reached(schema, table, row, rows, reached, edges, identities):
                    reached[table.name].add(pk)
                    grew = True
    return reached


def _reached(
    schema: Schema,
    table: Table,
    row: Row,
    rows: Rows,
    reached: dict[str, set[tuple[Any, ...]]],
    edges: list[Edge],
    identities: Mapping[str, Sequence[Any]],
) -> bool:
    for column in table.columns:
        value = row[column.name]
        if column.identity and value is not None and value in identities.get(column.identity, ()):
            return True
    for edge in edges:
        if edge.target != table.name or row[edge.target_column] is None:
            continue
        for pk in reached[edge.source]:
            if rows[edge.source][pk][edge.source_column] == row[edge.target_column]:
                return True
    return False


def declared_rows(schema: Schema, rows: Rows, keys: set[tuple[Any, ...]], name: str) -> list[Row]:
    """Rows of ``name`` with these keys, declared fields only, ordered by primary key."""
    table = schema.table(name)
    return [
        {c.name: rows[name][pk][c.name] for c in table.columns if c.declared} for pk in sorted(keys)
    ]


def held(table: Table, column: Column, row: Row, policy: bool) -> bool:
    """A legal retention rule keeps this field of this row: its clock has not run out, or has
    not started."""
    years = LEGAL_RULE_YEARS.get(column.retention or "")
    stamp = column.timestamp or table.timestamp
    if not policy or years is None or stamp is None:
        return False
    value = row[stamp]
    return value is None or value > NOW.replace(year=NOW.year - years, tzinfo=None)


def expected_after_erasure(
    schema: Schema, rows: Rows, reached: dict[str, set[tuple[Any, ...]]], *, policy: bool
) -> Rows:
    """Every row as erasure must leave it: unreachable rows as they were; reachable ones with
    each field declared for erasure masked unless held; rows of a collection that deletes rows
    gone unless a field of theirs is held."""
    after: Rows = {}
    for table in schema.tables:
        after[table.name] = {}
        for pk, row in rows[table.name].items():
            if pk not in reached[table.name]:
                after[table.name][pk] = row
                continue
            erased = [c for c in table.columns if c.erased]
            holds = {c.name for c in erased if held(table, c, row, policy)}
            if table.deletes_rows and not holds:
                continue
            new = dict(row)
            for column in erased:
                if column.name in holds or column.mask == "delete_row":
                    continue
                new[column.name] = _masked(column, row[column.name])
            after[table.name][pk] = new
    return after


def _masked(column: Column, value: Any) -> Any:
    if column.mask in (None, "nullify"):
        return None
    if column.mask == "fixed":
        return column.value
    assert column.mask == "hash"
    return value if value is None or is_keyed_hash(value) else keyed_hash(HASH_KEY, value)


def kept(
    schema: Schema, rows: Rows, reached: dict[str, set[tuple[Any, ...]]], *, policy: bool
) -> set[tuple[str, str, str, int]]:
    """(collection, field, rule, rows) for each field a legal rule holds in some reachable row."""
    found = set()
    for table in schema.tables:
        for column in table.columns:
            if not column.erased or column.retention is None:
                continue
            count = sum(
                held(table, column, rows[table.name][pk], policy) for pk in reached[table.name]
            )
            if count:
                found.add((table.name, column.name, column.retention, count))
    return found


def deleted(schema: Schema, rows: Rows, after: Rows) -> dict[str, int]:
    return {
        t.name: len(rows[t.name]) - len(after[t.name])
        for t in schema.tables
        if len(rows[t.name]) != len(after[t.name])
    }
