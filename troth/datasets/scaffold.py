"""A first dataset file written from a live database, for a person to review (``troth datasets
scaffold``).

The schema is reflected: every table becomes a collection and every column a field, with its
primary key, its Fides data type where Fides has one (text, whole and decimal numbers, truth
values) and its foreign keys as references. Data categories are suggested from each column's
name and, for text columns, from a sample of its values (addresses of mail, phone numbers, IP
addresses, card numbers). Sampled values are tested and dropped; none is written. Every
suggestion carries a ``review`` comment on its line, and so does every identity and mask the
scaffold chose: the file is a draft until someone has read it, and ``troth datasets check`` is
the next step.

A reference follows the foreign key from the referenced row to the referencing one (``direction:
from``: a customer's orders are reached from the customer). Where the referenced table would
otherwise be out of reach of every identity but the referencing one is reached (a customer's
``address_id``), the reference points the other way (``direction: to``), also marked for review.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from io import StringIO
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from sqlalchemy import Column, Connection, Engine, MetaData, Table, select
from sqlalchemy.exc import SAWarning

from .columns import Kind, column_kind, fides_type, text_length
from .isolation import ISOLATION_TABLE
from .suggest import from_name, from_values

OPERATIONS = "system.operations"
EMAIL = "user.contact.email"
# The length of run.py's keyed hash ("h:" and 64 hex digits): shorter text columns cannot hold it.
HASH_LENGTH = 66
HEADER = """\
Written by `troth datasets scaffold` from the live schema: a draft to review.
Every line marked "review" is a suggestion (a data category, an identity, a mask, a reference
direction): confirm or correct it, then run `troth datasets check FILE --db URL`."""


class _Column:
    """A reflected column with what the scaffold decided about it."""

    def __init__(self, table: Table, column: Column[Any], sample: list[object]):
        self.column = column
        self.kind: Kind | None = column_kind(column.type)
        self.key = column.primary_key or bool(column.foreign_keys)
        self.category, self.source = _category(column.name, self.kind, self.key, sample)

    @property
    def personal(self) -> bool:
        return self.category != OPERATIONS


def _category(name: str, kind: Kind | None, key: bool, sample: list[object]) -> tuple[str, str]:
    # Truth values and numeric keys hold no personal data whatever their name says
    # (email_verified, card_id); text keys can (a table keyed by email).
    if kind == "boolean" or (key and kind != "string"):
        return OPERATIONS, ""
    by_value = from_values(sample) if kind == "string" else None
    by_name = from_name(name)
    if by_value and by_name == by_value:
        return by_value, "suggested from the column name and sampled values: review"
    if by_value:
        return by_value, "suggested from sampled values: review"
    if by_name:
        return by_name, "suggested from the column name: review"
    return OPERATIONS, ""


def _sample(conn: Connection, table: Table, rows: int) -> dict[str, list[object]]:
    """Up to ``rows`` values of each text column, to test against patterns; never kept."""
    columns = [c for c in table.columns if column_kind(c.type) == "string"]
    if not columns or rows <= 0:
        return {}
    found: dict[str, list[object]] = {c.name: [] for c in columns}
    for row in conn.execute(select(*columns).limit(rows)):
        for column, value in zip(columns, row, strict=True):
            found[column.name].append(value)
    return found


def _flow_seq(items: Iterable[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def _flow_map(**items: Any) -> CommentedMap:
    mapping = CommentedMap(items)
    mapping.fa.set_flow_style()
    return mapping


def _directions(
    tables: list[Table], identity_tables: set[str]
) -> dict[tuple[str, str, str, str], str]:
    """The direction of each foreign key's reference, (child, column, parent, column) -> from|to:
    from the referenced row where that reaches something, else towards it."""
    links = [
        (t.name, fk.parent.name, fk.column.table.name, fk.column.name)
        for t in tables
        for fk in t.foreign_keys
    ]
    reached = set(identity_tables)
    chosen: dict[tuple[str, str, str, str], str] = {}
    grew = True
    while grew:
        grew = False
        for link in links:
            child, _, parent, _ = link
            if link in chosen:
                continue
            if parent in reached:
                chosen[link] = "from"
                grew = grew or child not in reached
                reached.add(child)
        if grew:
            continue
        # Nothing more reached by following keys forward: turn one link the other way.
        for link in links:
            child, _, parent, _ = link
            if link not in chosen and child in reached:
                chosen[link] = "to"
                reached.add(parent)
                grew = True
                break
    return {link: chosen.get(link, "from") for link in links}


def _field(
    key: str, col: _Column, identity: bool, directions: dict[tuple[str, str, str, str], str]
) -> CommentedMap:
    column = col.column
    field = CommentedMap()
    field["name"] = str(column.name)
    field["data_categories"] = _flow_seq([col.category])
    if col.source:
        field.yaml_add_eol_comment(col.source, key="data_categories")
    meta = CommentedMap()
    notes = []
    if identity:
        meta["identity"] = "email"
        notes.append("identity suggested: review")
    if column.primary_key:
        meta["primary_key"] = True
    data_type = fides_type(col.kind)
    if data_type:
        meta["data_type"] = data_type
    length = text_length(column.type) if col.kind == "string" else None
    if length:
        meta["length"] = length
    references = []
    for fk in sorted(column.foreign_keys, key=lambda f: f.target_fullname):
        parent = fk.column.table.name
        direction = directions[(column.table.name, column.name, parent, fk.column.name)]
        references.append(
            _flow_map(dataset=key, field=f"{parent}.{fk.column.name}", direction=direction)
        )
        if direction == "to":
            notes.append(f"reached from here, so that {parent} is reached: review")
    if references:
        meta["references"] = _flow_seq(references)
    else:
        meta.fa.set_flow_style()
    if meta:
        field["fides_meta"] = meta
        if notes:
            field.yaml_add_eol_comment("; ".join(notes), key="fides_meta")
    mask = _mask(col)
    if mask:
        field["troth"] = _flow_map(mask=mask)
        field.yaml_add_eol_comment(
            "mask suggested, as the column cannot be empty: review", key="troth"
        )
    return field


def _mask(col: _Column) -> str | None:
    """A mask for a personal column that cannot be nullified; None keeps the default."""
    column = col.column
    if not col.personal:
        return None
    if column.primary_key:
        return "delete_row"
    if column.nullable:
        return None
    length = text_length(column.type)
    if col.kind == "string" and (length is None or length >= HASH_LENGTH):
        return "hash"
    return "delete_row"


def scaffold(engine: Engine, *, key: str, sample_rows: int = 50) -> str:
    """The YAML text of a dataset ``key`` describing every table of the database behind
    ``engine``, with suggestions marked for review. troth's own table of isolated values
    (``troth_isolated``) is left out: it is not the company's data to describe."""
    metadata = MetaData()
    with engine.connect() as conn:
        metadata.reflect(conn, only=lambda name, _: name != ISOLATION_TABLE)
        with warnings.catch_warnings():
            # A cycle of foreign keys only makes the order arbitrary; the check reports cycles.
            warnings.simplefilter("ignore", SAWarning)
            tables = list(metadata.sorted_tables)
        samples = {t.name: _sample(conn, t, sample_rows) for t in tables}
    columns = {
        t.name: [_Column(t, c, samples[t.name].get(c.name, [])) for c in t.columns] for t in tables
    }
    with_email = {name for name, cols in columns.items() if any(c.category == EMAIL for c in cols)}
    # An email column is suggested as an identity unless its table hangs off another table that
    # has one (an order's copy of the customer's email is reached through the customer).
    identity_tables = {
        t.name
        for t in tables
        if t.name in with_email
        and not any(
            fk.column.table.name in with_email and fk.column.table.name != t.name
            for fk in t.foreign_keys
        )
    }
    directions = _directions(tables, identity_tables)
    collections = CommentedSeq()
    for table in tables:
        fields = CommentedSeq(
            _field(
                key,
                col,
                table.name in identity_tables and col.category == EMAIL,
                directions,
            )
            for col in columns[table.name]
        )
        collections.append(CommentedMap(name=str(table.name), fields=fields))
    dataset = CommentedMap(fides_key=key, name=key, collections=collections)
    document = CommentedMap(dataset=CommentedSeq([dataset]))
    document.yaml_set_start_comment(HEADER)
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    text = StringIO()
    yaml.dump(document, text)
    return text.getvalue()
