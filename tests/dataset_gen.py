"""Generated company databases for the dataset runner's property tests: hypothesis strategies
for schemas and rows, the schema written as a dataset file, and its tables created and read back.

A :class:`Schema` is a handful of tables joined by references in every shape the runner must
follow: chains, fan-outs, diamonds, self-references (``parent_id``), composite keys referenced by
one of their columns, and text references between email columns (a masked column that is also a
join key). :func:`dataset_of` writes the schema as a Fides dataset file and reads it back with
:func:`troth.datasets.model.read_datasets`, so the loader is exercised too. Rows use small key
values and a small pool of emails, so that joins happen. What the runner must do with them is
computed apart, by the oracle in :mod:`dataset_oracle`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from hypothesis import strategies as st
from sqlalchemy import Column as SaColumn
from sqlalchemy import DateTime, Engine, Integer, MetaData, String, insert, select
from sqlalchemy import Table as SaTable

from troth.datasets.model import Dataset, read_datasets

DATASET_KEY = "generated"
EMAILS = ("ana@example.org", "bo@example.org", "cy@example.net", "dee@example.com")
STRANGER = "zed@example.org"  # in no table
FIXED_VALUES = ("erased", "-", "redacted", "x")
PERSONAL_CATEGORIES = (
    "user.name",
    "user.contact.email",
    "user.contact.address.street",
    "user.content.private",
    "user.behavior.browsing_history",
)
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
RULES = ("financial_records", "project_data", "testimonials")  # testimonials: no legal basis
HASH_KEY = b"property-test-hash-key"

Kind = Literal["int", "text", "time"]
Direction = Literal["from", "to"] | None


@dataclass(frozen=True)
class Ref:
    table: str
    column: str
    direction: Direction


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    length: int | None = None
    nullable: bool = True
    primary_key: bool = False
    categories: tuple[str, ...] = ("system.operations",)
    identity: str | None = None
    mask: str | None = None  # None: no troth key (the default, nullify)
    value: str | None = None
    read_only: bool = False
    retention: str | None = None
    timestamp: str | None = None
    references: tuple[Ref, ...] = ()
    declared: bool = True

    @property
    def personal(self) -> bool:
        return any(c == "user" or c.startswith("user.") for c in self.categories)

    @property
    def erased(self) -> bool:
        """Declared for erasure: personal, declared, and not read-only."""
        return self.personal and self.declared and not self.read_only


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    timestamp: str | None = None

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.primary_key)

    @property
    def deletes_rows(self) -> bool:
        return any(c.erased and c.mask == "delete_row" for c in self.columns)


@dataclass(frozen=True)
class Edge:
    source: str
    source_column: str
    target: str
    target_column: str


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def edges(self) -> list[Edge]:
        """Reach along references: ``from`` (or none) from the named column to the referencing
        one, ``to`` (or none) the other way."""
        found = []
        for table in self.tables:
            for column in table.columns:
                for ref in column.references:
                    if ref.direction in ("from", None):
                        found.append(Edge(ref.table, ref.column, table.name, column.name))
                    if ref.direction in ("to", None):
                        found.append(Edge(table.name, column.name, ref.table, ref.column))
        return found


Row = dict[str, Any]
Rows = dict[str, dict[tuple[Any, ...], Row]]  # table -> primary key -> row


@dataclass(frozen=True)
class Scenario:
    schema: Schema
    rows: dict[str, list[Row]]
    emails: tuple[str, ...]  # the subject's identities

    @property
    def identities(self) -> dict[str, list[str]]:
        return {"email": list(self.emails)}


# -- schemas -------------------------------------------------------------------------------------


def _masks(nullable: bool, length: int | None) -> list[str]:
    """The masks that fit a column: nullify needs NULL allowed, hash a text column long enough
    for the keyed hash, fixed a text column (the fixed values are short)."""
    masks = ["delete_row"]
    if nullable:
        masks.append("nullify")
    if length is not None:
        masks.append("fixed")
        if length >= 66:
            masks.append("hash")
    return masks


@st.composite
def _personal(
    draw: st.DrawFn,
    name: str,
    category: str,
    *,
    identity: str | None = None,
    references: tuple[Ref, ...] = (),
    retention_ok: bool,
) -> Column:
    length = draw(st.sampled_from([12, 40, 80])) if not references and not identity else 80
    nullable = draw(st.booleans()) if not references else True
    read_only = not identity and not references and draw(st.integers(0, 7)) == 0
    if read_only:
        return Column(name, "text", length, nullable, categories=(category,), read_only=True)
    mask = draw(st.sampled_from(_masks(nullable, length)))
    retention = draw(st.sampled_from((None, None, *RULES))) if retention_ok else None
    return Column(
        name,
        "text",
        length,
        nullable,
        categories=(category,),
        identity=identity,
        # nullify is the default: sometimes written out, sometimes left to the loader
        mask=None if mask == "nullify" and draw(st.booleans()) else mask,
        value=draw(st.sampled_from(FIXED_VALUES)) if mask == "fixed" else None,
        retention=retention,
        references=references,
    )


def _writable(column: Column) -> Column:
    mask = None if column.nullable else "delete_row"
    return Column(**{**column.__dict__, "read_only": False, "mask": mask})


@st.composite
def schemas(draw: st.DrawFn, max_tables: int = 6) -> Schema:
    count = draw(st.integers(1, max_tables))
    names = [f"t{i}" for i in range(count)]
    with_email = [draw(st.booleans()) for _ in names]
    if not any(with_email):
        with_email[draw(st.integers(0, count - 1))] = True
    composite = [draw(st.integers(0, 3)) == 0 for _ in names]
    keys = [("k1", "k2") if c else ("id",) for c in composite]
    tables: list[Table] = []
    for i, name in enumerate(names):
        columns: list[Column] = []
        refs_on_k1: tuple[Ref, ...] = ()
        parents = draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True)) if i else []
        ref_columns: list[Column] = []
        for n, p in enumerate(parents):
            direction = draw(st.sampled_from(("from", "from", "to", None)))
            shape = draw(st.sampled_from(("int", "int", "email", "key")))
            if shape == "email" and with_email[p]:
                ref = Ref(names[p], "email", direction)
                ref_columns.append(
                    draw(
                        _personal(
                            f"ref{n}_email",
                            "user.contact.email",
                            references=(ref,),
                            retention_ok=False,
                        )
                    )
                )
                continue
            ref = Ref(names[p], draw(st.sampled_from(keys[p])), direction)
            if shape == "key" and composite[i] and not refs_on_k1:
                refs_on_k1 = (ref,)  # a composite key whose first column is a reference
            else:
                ref_columns.append(Column(f"ref{n}", "int", references=(ref,)))
        for k in keys[i]:
            columns.append(
                Column(
                    k,
                    "int",
                    nullable=False,
                    primary_key=True,
                    references=refs_on_k1 if k == "k1" else (),
                )
            )
        stamp = draw(st.sampled_from((None, "system", "personal")))
        if stamp is not None:
            # the retention clock; when personal, erasure may empty it in the same statement
            # that reads it for a hold
            nullable = draw(st.booleans())
            columns.append(
                Column(
                    "created_at",
                    "time",
                    nullable=nullable,
                    categories=("user.behavior",)
                    if stamp == "personal"
                    else ("system.operations",),
                    mask=(
                        draw(st.sampled_from(_masks(nullable, None)))
                        if stamp == "personal"
                        else None
                    ),
                )
            )
        if with_email[i]:
            columns.append(
                draw(_personal("email", "user.contact.email", identity="email", retention_ok=False))
            )
        for n in range(draw(st.integers(0, 2))):
            category = draw(st.sampled_from(PERSONAL_CATEGORIES))
            columns.append(draw(_personal(f"p{n}", category, retention_ok=stamp is not None)))
        columns.extend(ref_columns)
        if draw(st.integers(0, 3)) == 0:
            direction = draw(st.sampled_from(("from", "to", None)))
            ref = Ref(name, keys[i][0], direction)
            columns.append(Column("parent_id", "int", references=(ref,)))
        if draw(st.booleans()):
            columns.append(Column("note", "text", 40))
        if draw(st.integers(0, 3)) == 0:
            columns.append(Column("extra", "int", declared=False))
        if not any(c.erased and c.mask == "delete_row" for c in columns):
            # a read-only personal field is only allowed where erasure deletes its row
            columns = [_writable(c) if c.read_only else c for c in columns]
        table_stamp = "created_at" if stamp and draw(st.booleans()) else None
        if stamp and not table_stamp:
            # the clock named on the held fields instead of the collection
            columns = [
                Column(**{**c.__dict__, "timestamp": "created_at"}) if c.retention else c
                for c in columns
            ]
        tables.append(Table(name, tuple(columns), table_stamp))
    return _only_reached_hold_personal_data(Schema(tuple(tables)))


def _only_reached_hold_personal_data(schema: Schema) -> Schema:
    """A collection no identity reaches may hold no personal data (troth refuses such a
    dataset), so its columns are made operational ones; its rows stay, and must stay unchanged."""
    reached = {t.name for t in schema.tables if any(c.identity for c in t.columns)}
    grew = True
    while grew:
        grew = False
        for edge in schema.edges():
            if edge.source in reached and edge.target not in reached:
                reached.add(edge.target)
                grew = True
    plain = {"categories": ("system.operations",), "mask": None, "value": None}
    plain |= {"read_only": False, "retention": None, "timestamp": None}
    return Schema(
        tuple(
            t
            if t.name in reached
            else Table(t.name, tuple(Column(**{**c.__dict__, **plain}) for c in t.columns))
            for t in schema.tables
        )
    )


# -- the dataset file ----------------------------------------------------------------------------


def dataset_yaml(schema: Schema) -> str:
    """The schema as a Fides dataset file, troth's masks and retention under ``troth`` keys."""
    lines = ["dataset:", f"  - fides_key: {DATASET_KEY}", "    name: Generated", "    collections:"]
    for table in schema.tables:
        lines.append(f"      - name: {table.name}")
        if table.timestamp:
            lines.append(f"        troth: {{timestamp: {table.timestamp}}}")
        lines.append("        fields:")
        for column in table.columns:
            if column.declared:
                lines.extend(_field_yaml(column))
    return "\n".join(lines) + "\n"


def _field_yaml(column: Column) -> list[str]:
    meta: dict[str, Any] = {}
    if column.kind != "time":
        meta["data_type"] = "integer" if column.kind == "int" else "string"
    if column.primary_key:
        meta["primary_key"] = True
    if column.identity:
        meta["identity"] = column.identity
    if column.read_only:
        meta["read_only"] = True
    if column.kind == "text" and column.length and column.length < 66:
        meta["length"] = column.length
    troth = {
        k: v
        for k, v in (
            ("mask", column.mask),
            ("value", column.value),
            ("retention", column.retention),
            ("timestamp", column.timestamp),
        )
        if v is not None
    }
    lines = [
        f"          - name: {column.name}",
        f"            data_categories: [{', '.join(column.categories)}]",
    ]
    if meta or column.references:
        lines.append("            fides_meta:")
        lines.extend(f"              {k}: {_scalar(v)}" for k, v in meta.items())
    if column.references:
        lines.append("              references:")
        for ref in column.references:
            lines.append(f"                - dataset: {DATASET_KEY}")
            lines.append(f"                  field: {ref.table}.{ref.column}")
            if ref.direction:
                lines.append(f"                  direction: {ref.direction}")
    if troth:
        lines.append(
            "            troth: {" + ", ".join(f"{k}: {_scalar(v)}" for k, v in troth.items()) + "}"
        )
    return lines


def _scalar(value: Any) -> str:
    return json.dumps(value)  # a JSON scalar is a YAML scalar


def dataset_of(schema: Schema) -> Dataset:
    [dataset] = read_datasets(dataset_yaml(schema), "generated.yaml")
    return dataset


# -- the database --------------------------------------------------------------------------------


def sql_tables(schema: Schema) -> dict[str, SaTable]:
    """The tables, without foreign keys: the runner's order must not depend on them."""
    metadata = MetaData()
    tables = {}
    for table in schema.tables:
        columns = []
        for column in table.columns:
            sa_type: Any = {
                "int": Integer(),
                "text": String(column.length or 40),
                "time": DateTime(),
            }[column.kind]
            columns.append(
                SaColumn(
                    column.name,
                    sa_type,
                    primary_key=column.primary_key,
                    nullable=column.nullable,
                    autoincrement=False,
                )
            )
        tables[table.name] = SaTable(table.name, metadata, *columns)
    return tables


def insert_rows(schema: Schema, engine: Engine, rows: Mapping[str, Sequence[Row]]) -> None:
    """Create the tables and insert the rows."""
    tables = sql_tables(schema)
    next(iter(tables.values())).metadata.create_all(engine)
    with engine.begin() as conn:
        for name, table_rows in rows.items():
            if table_rows:
                conn.execute(insert(tables[name]), list(table_rows))


def snapshot(schema: Schema, engine: Engine) -> Rows:
    """Every row of every table as the database holds it, by primary key."""
    tables = sql_tables(schema)
    found: Rows = {}
    with engine.connect() as conn:
        for table in schema.tables:
            found[table.name] = {
                tuple(r[k] for k in table.key): r
                for r in (dict(row._mapping) for row in conn.execute(select(tables[table.name])))
            }
    return found


def as_bytes(rows: Rows) -> dict[str, dict[tuple[Any, ...], str]]:
    """Rows compared value by value, type included (``1`` is not ``'1'``, nor ``1.0``)."""
    return {
        name: {pk: repr(sorted(row.items())) for pk, row in table.items()}
        for name, table in rows.items()
    }


# -- rows ----------------------------------------------------------------------------------------

# Unicode text, without what no database stores as text (surrogates, control characters).
TEXT = st.characters(exclude_categories=("Cs", "Cc"))
CUTOFF_7Y = NOW.replace(year=NOW.year - 7, tzinfo=None)
CUTOFF_5Y = NOW.replace(year=NOW.year - 5, tzinfo=None)
STAMPS = (
    *(
        cutoff + delta
        for cutoff in (CUTOFF_7Y, CUTOFF_5Y)
        for delta in (timedelta(0), timedelta(seconds=1), timedelta(seconds=-1), timedelta(days=40))
    ),
    NOW.replace(tzinfo=None) - timedelta(days=1),
    datetime(2001, 1, 1),
)


def _value(draw: st.DrawFn, column: Column) -> Any:
    if column.nullable and draw(st.integers(0, 5)) == 0:
        return None
    if column.kind == "time":
        return draw(st.sampled_from(STAMPS))
    if column.kind == "int":
        return draw(st.integers(1, 6))
    if column.name == "email" or any(r.column == "email" for r in column.references):
        return draw(st.sampled_from(EMAILS))
    return draw(st.text(TEXT, max_size=min(column.length or 40, 12)))


@st.composite
def scenarios(draw: st.DrawFn, max_tables: int = 6, max_rows: int = 5) -> Scenario:
    schema = draw(schemas(max_tables))
    rows: dict[str, list[Row]] = {}
    for table in schema.tables:
        if table.key == ("id",):
            keys = draw(st.lists(st.integers(1, 6), min_size=1, max_size=max_rows, unique=True))
            pks = [{"id": k} for k in keys]
        else:
            pairs = draw(
                st.lists(
                    st.tuples(st.integers(1, 3), st.integers(1, 3)),
                    min_size=1,
                    max_size=max_rows,
                    unique=True,
                )
            )
            pks = [{"k1": a, "k2": b} for a, b in pairs]
        rows[table.name] = [
            pk | {c.name: _value(draw, c) for c in table.columns if not c.primary_key} for pk in pks
        ]
    emails = draw(st.lists(st.sampled_from(EMAILS), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        emails.append(STRANGER)
    return Scenario(schema, rows, tuple(emails))
