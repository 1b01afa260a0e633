"""Whether a dataset can be acted on as declared: every personal field found and erased.

Checking fails closed. A field with a personal data category that no identity reaches, or that
cannot be erased the way the file says (no primary key to address its rows, a read-only flag, a
type troth cannot recognise, a mask the column cannot take), is an error: running such a
dataset would answer an access or erasure request while silently leaving that data behind.

:func:`check_dataset` runs the static checks (the file and, when given, the declaration) and,
with the live schema from :func:`reflect`, the checks against the database. The runner calls
both when it connects and refuses a dataset with errors; ``troth datasets check`` prints them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Column, Engine, MetaData, Table, UniqueConstraint, inspect
from sqlalchemy.types import NullType

from troth.declaration import Policy
from troth.declaration.problems import Problem, Severity
from troth.declaration.taxonomy import fides_keys

from .columns import FIDES_TYPES, column_kind, text_length
from .graph import traverse
from .model import IDENTITY_KINDS, Collection, Dataset, Field

# A keyed hash is "h:" and 64 hex digits (troth.datasets.run): a column must hold 66 characters.
HASH_LENGTH = 66


class _Report:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.problems: list[Problem] = []

    def error(self, path: tuple[str | int, ...], message: str) -> None:
        self.add(path, "error", message)

    def warning(self, path: tuple[str | int, ...], message: str) -> None:
        self.add(path, "warning", message)

    def add(self, path: tuple[str | int, ...], severity: Severity, message: str) -> None:
        self.problems.append(self.dataset.problem(path, severity, message))


def check_dataset(
    dataset: Dataset, *, policy: Policy | None = None, metadata: MetaData | None = None
) -> list[Problem]:
    """Every problem with ``dataset``, sorted by line: against ``policy`` (retention rules,
    categories) when given, and against the live tables in ``metadata`` when given."""
    report = _Report(dataset)
    _reachability(dataset, report)
    for collection in dataset.collections:
        _collection(collection, report)
        for field in collection.fields:
            _field(collection, field, policy, report)
    if metadata is not None:
        _live(dataset, metadata, report)
    return sorted(report.problems, key=lambda p: (p.line, p.column, p.message))


def reachability_problems(dataset: Dataset) -> list[Problem]:
    """The errors that stop rights requests (not retention sweeps): personal data that no
    identity reaches."""
    report = _Report(dataset)
    _reachability(dataset, report)
    return [p for p in report.problems if p.severity == "error"]


def reflect(engine: Engine, dataset: Dataset) -> MetaData:
    """The live tables of ``dataset``'s collections that exist, and the tables whose foreign
    keys refer to them (a delete must not be refused by one of those). Missing tables are left
    out, for :func:`check_dataset` to report."""
    metadata = MetaData()
    names = {c.name for c in dataset.collections}
    with engine.connect() as conn:
        inspector = inspect(conn)
        existing = set(inspector.get_table_names())
        wanted = names & existing
        referring = {
            table
            for (_, table), keys in inspector.get_multi_foreign_keys().items()
            if table not in wanted and any(k["referred_table"] in wanted for k in keys)
        }
        metadata.reflect(conn, only=sorted(wanted | referring))
    return metadata


# -- without the database -----------------------------------------------------------------------


def _reachability(dataset: Dataset, report: _Report) -> None:
    traversal = traverse(dataset)
    for name in traversal.unreachable:
        collection = dataset.collection(name)
        personal = [f.name for f in collection.personal]
        if personal:
            report.error(
                collection.path,
                f"collection {name}: {', '.join(personal)} hold personal data, but no identity "
                "reaches this collection; give it an identity field (fides_meta.identity) or a "
                "reference from a collection that is reached",
            )
    for group in traversal.cycles:
        loop = " -> ".join(_cycle(dataset, group))
        report.warning(
            dataset.collection(group[0]).path,
            f"references form a cycle: {loop}; troth follows it step by step until no new row "
            "appears",
        )


def _cycle(dataset: Dataset, group: tuple[str, ...]) -> list[str]:
    """A shortest loop of references through the group's first collection, start to start."""
    start = group[0]
    members = set(group)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for edge in dataset.edges:
            if edge.source != node or edge.target not in members:
                continue
            if edge.target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if edge.target not in came_from:
                came_from[edge.target] = node
                queue.append(edge.target)
    return [start, start]  # not reached: traverse() only reports groups that loop


def _collection(collection: Collection, report: _Report) -> None:
    if collection.personal and not collection.primary_key:
        report.error(
            collection.path,
            f"collection {collection.name} holds personal data but declares no primary key "
            "(fides_meta.primary_key on its key fields); troth cannot address its rows to erase "
            "them",
        )


def _field(collection: Collection, field: Field, policy: Policy | None, report: _Report) -> None:
    here = f"{collection.name}.{field.name}"
    meta = (*field.path, "fides_meta")
    troth = (*field.path, "troth")
    if field.data_type is not None and field.data_type not in FIDES_TYPES:
        report.error(
            (*meta, "data_type"),
            f"{here}: data_type {field.data_type} describes documents, not SQL columns; use "
            f"{', '.join(FIDES_TYPES)}",
        )
    if field.identity is not None and field.identity not in IDENTITY_KINDS:
        report.error(
            (*meta, "identity"),
            f"{here}: troth finds people by {', '.join(IDENTITY_KINDS)}, not by "
            f"{field.identity}; this collection would never be reached",
        )
    _categories(here, field, policy, report)
    if not field.personal:
        return
    # A read-only field goes with its row when another field of the collection deletes rows.
    row_deleted = any(f.mask == "delete_row" and not f.read_only for f in collection.personal)
    if field.read_only and not row_deleted:
        report.error(
            (*meta, "read_only"),
            f"{here} holds personal data but is read_only, so erasure cannot change it; remove "
            "read_only, or give another field of the collection mask delete_row",
        )
    if field.primary_key and field.mask != "delete_row":
        report.error(
            (*troth, "mask") if field.mask != "nullify" else field.path,
            f"{here} is personal data and part of the primary key; the key addresses the row, "
            "so erase it with mask delete_row",
        )
    if field.mask == "fixed":
        problem = _value_problem(field.value, field.data_type, field.length)
        if problem:
            report.error((*troth, "value"), f"{here}: the fixed value {problem}")
    if field.mask == "hash":
        if field.data_type not in (None, "string"):
            report.error(
                (*troth, "mask"),
                f"{here}: mask hash writes text, but the field is declared {field.data_type}",
            )
        elif field.length is not None and field.length < HASH_LENGTH:
            report.error(
                (*troth, "mask"),
                f"{here}: mask hash writes {HASH_LENGTH} characters, but the field's length is "
                f"{field.length}",
            )
    if field.retention is not None:
        _retention(collection, field, policy, report)


def _categories(here: str, field: Field, policy: Policy | None, report: _Report) -> None:
    known = fides_keys("data_category") | (set(policy.categories) if policy else set())
    for i, category in enumerate(field.categories):
        if category not in known:
            where = "the Fides taxonomy" + (" or the declaration's categories" if policy else "")
            report.warning(
                (*field.path, "data_categories", i),
                f"{here}: data category {category} is not in {where}",
            )


def _retention(
    collection: Collection, field: Field, policy: Policy | None, report: _Report
) -> None:
    here = f"{collection.name}.{field.name}"
    path = (*field.path, "troth", "retention")
    if policy is not None:
        rule = policy.retention_rules.get(field.retention or "")
        if rule is None:
            known = ", ".join(sorted(policy.retention_rules)) or "none"
            report.error(
                path,
                f"{here}: retention rule {field.retention} is not in the declaration "
                f"(its rules: {known})",
            )
        elif rule.legal_basis is None:
            report.warning(
                path,
                f"{here}: retention rule {rule.key} has no legal_basis, so it does not keep the "
                "field from erasure",
            )
    if (field.timestamp or collection.timestamp) is None:
        report.error(
            path,
            f"{here}: a retention rule needs the column its clock starts from: set troth.timestamp "
            "on the field or its collection",
        )


def _value_problem(value: Any, data_type: str | None, length: int | None) -> str | None:
    """Why a fixed value does not fit a declared type and length, or None."""
    fits = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
    }
    if data_type in fits and not fits[data_type]:
        return f"{value!r} is not a {data_type}"
    if length is not None and isinstance(value, str) and len(value) > length:
        return f"is {len(value)} characters long, but the field holds {length}"
    return None


# -- against the database -----------------------------------------------------------------------


def _live(dataset: Dataset, metadata: MetaData, report: _Report) -> None:
    tables = {str(t.name): t for t in metadata.tables.values() if t.schema is None}
    erased = _deleted_collections(dataset)
    for collection in dataset.collections:
        table = tables.get(collection.name)
        if table is None:
            report.error(
                collection.path,
                f"collection {collection.name}: the database has no table of that name",
            )
            continue
        _live_collection(dataset, collection, table, report)
        if collection.name in erased:
            _blocking_foreign_keys(collection, table, tables, erased, report)


def _deleted_collections(dataset: Dataset) -> set[str]:
    reachable = set(traverse(dataset).order)
    return {c.name for c in dataset.collections if c.deletes_rows and c.name in reachable}


def _live_collection(
    dataset: Dataset, collection: Collection, table: Table, report: _Report
) -> None:
    missing = [f for f in collection.fields if f.name not in table.c]
    for field in missing:
        report.error(
            field.path,
            f"{collection.name}.{field.name}: table {collection.name} has no column of that name",
        )
    live_key = tuple(str(c.name) for c in table.primary_key.columns)
    if collection.primary_key and set(collection.primary_key) != set(live_key):
        report.warning(
            collection.path,
            f"collection {collection.name}: the declared primary key "
            f"({', '.join(collection.primary_key)}) is not the table's "
            f"({', '.join(live_key) or 'none'})",
        )
    # In a collection whose rows are deleted, other masks apply only to rows a retention rule
    # keeps; with no such rule, the row goes whole and the masks never run.
    masks_apply = not collection.deletes_rows or any(f.retention for f in collection.personal)
    for field in collection.fields:
        if field.name in table.c:
            _live_field(collection, field, table.c[field.name], table, masks_apply, report)
    for owner, name in [(collection, collection.timestamp)] + [
        (f, f.timestamp) for f in collection.fields
    ]:
        if name is None:
            continue
        path = (*owner.path, "troth", "timestamp")
        if name not in table.c:
            report.error(path, f"{collection.name}: the timestamp column {name} does not exist")
        elif column_kind(table.c[name].type) != "datetime":
            report.error(
                path,
                f"{collection.name}: the timestamp column {name} is {table.c[name].type}, not a "
                "date or time, so a retention clock cannot start from it",
            )
    _clock_indexes(collection, table, report)


def _clock_indexes(collection: Collection, table: Table, report: _Report) -> None:
    """A warning for each retention clock column no index begins with: a sweep finds expired
    rows by walking the primary key and testing the clock, which on a large table with few
    expired rows reads the whole table every day."""
    leading = {str(index.columns.values()[0].name) for index in table.indexes if index.columns}
    leading |= {str(c.name) for c in list(table.primary_key.columns)[:1]}
    warned: set[str] = set()
    for field in collection.fields:
        clock = field.timestamp or collection.timestamp
        if field.retention is None or clock is None or clock not in table.c:
            continue
        if column_kind(table.c[clock].type) != "datetime":
            continue  # an error already
        if clock in leading or clock in warned:
            continue
        warned.add(clock)
        owner = field if field.timestamp else collection
        report.warning(
            (*owner.path, "troth", "timestamp"),
            f"{collection.name}: no index begins with the retention clock column {clock}, so "
            "each sweep reads the whole table to find what has expired; on a large table, "
            f"CREATE INDEX ON {collection.name} ({clock})",
        )


def _live_field(
    collection: Collection,
    field: Field,
    column: Column[Any],
    table: Table,
    masks_apply: bool,
    report: _Report,
) -> None:
    here = f"{collection.name}.{field.name}"
    kind = column_kind(column.type)
    declared = FIDES_TYPES.get(field.data_type or "")
    if declared is not None and kind is not None and kind not in declared:
        report.error(
            (*field.path, "fides_meta", "data_type"),
            f"{here} is declared {field.data_type}, but the column is {column.type}",
        )
    if not field.personal:
        return
    if kind is None and field.data_type is None:
        report.error(
            field.path,
            f"{here}: troth does not recognise the column's type ({_type_name(column)}); "
            "declare its "
            "fides_meta.data_type so that erasure knows what to write",
        )
    if not masks_apply or field.read_only:
        return
    mask_path = (*field.path, "troth", "mask")
    if field.mask == "nullify" and not column.nullable and not column.primary_key:
        report.error(
            field.path,
            f"{here}: the column is NOT NULL, so erasure cannot empty it (the default mask, "
            "nullify); use mask fixed, hash or delete_row",
        )
    if field.mask == "fixed":
        _live_fixed(here, field, column, kind, table, report)
    if field.mask == "hash":
        length = text_length(column.type)
        if kind != "string":
            report.error(
                mask_path, f"{here}: mask hash writes text, but the column is {column.type}"
            )
        elif length is not None and length < HASH_LENGTH:
            report.error(
                mask_path,
                f"{here}: mask hash writes {HASH_LENGTH} characters, but the column holds {length}",
            )


def _type_name(column: Column[Any]) -> str:
    if isinstance(column.type, NullType):
        return "none declared"
    return str(column.type)


def _live_fixed(
    here: str, field: Field, column: Column[Any], kind: str | None, table: Table, report: _Report
) -> None:
    path = (*field.path, "troth", "value")
    if kind not in ("string", "integer", "float", "boolean"):
        report.error(
            path,
            f"{here}: a fixed value cannot be written to a column of type {column.type}; use "
            "mask nullify or delete_row",
        )
        return
    problem = _value_problem(field.value, kind, text_length(column.type))
    if problem:
        report.error(path, f"{here}: the fixed value {problem} (column {column.type})")
    if _unique(column, table):
        report.error(
            path,
            f"{here}: the column is unique, so a second erased row could not take the same "
            "fixed value; use mask hash, nullify or delete_row",
        )


def _unique(column: Column[Any], table: Table) -> bool:
    if column.unique:
        return True
    single = [{str(c.name) for c in u.columns} for u in _unique_sets(table)]
    return {str(column.name)} in single


def _unique_sets(table: Table) -> Iterator[Any]:
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            yield constraint
    for index in table.indexes:
        if index.unique:
            yield index


def _blocking_foreign_keys(
    collection: Collection,
    table: Table,
    tables: dict[str, Table],
    erased: set[str],
    report: _Report,
) -> None:
    """A row that a foreign key from a table that keeps its rows refers to cannot be deleted
    (unless the key cascades or empties itself)."""
    for other_name, other in sorted(tables.items()):
        if other_name in erased:
            continue
        for fk in other.foreign_keys:
            if fk.column.table is not table:
                continue
            if (fk.ondelete or "").upper() in ("CASCADE", "SET NULL", "SET DEFAULT"):
                continue
            report.error(
                collection.path,
                f"collection {collection.name}: erasure deletes its rows, but "
                f"{other_name}.{fk.parent.name} refers to them and {other_name}'s rows are not "
                "deleted, so the database would refuse the delete; delete those rows too (a "
                f"delete_row field in a reachable {other_name}) or make the key ON DELETE CASCADE",
            )
