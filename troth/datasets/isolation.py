"""Isolation inside a company database (P18): values a retention rule with action ``isolate``
moves out of normal reach.

A company database cannot make one column readable by auditors alone, so troth moves the values
instead. When a row's fields expire under an ``isolate`` rule, the sweep, in one transaction per
batch:

1. seals the fields' values (AES-256-GCM under a subkey of troth's master key, bound to the
   dataset, collection, row and rule) into a row of ``troth_isolated``, a table troth creates in
   that database the first time it isolates something there;
2. writes each field's mask (``nullify``, ``fixed`` or ``hash``) over the original value.

The company's applications and staff see the masked row; the values themselves are readable only
through troth, by the auditor role, one subject at a time (``/console/retention/isolated``), each
read audited. A row is found again by its primary key: an access request's traversal finds the
subject's rows, and their isolated values are looked up by key. That is why an isolated field may
not be one the rows are found by (an identity, or a column a reference follows) and why it may not
have ``delete_row``: both would cut the isolated values off from the person they are about.

Isolated values are still subject to the final delete: a rights erasure removes the isolated rows
of every row it reaches, and a sweep removes isolated rows whose rule no longer isolates (a later
declaration changed its action, or dropped it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    insert,
    inspect,
    select,
)

from .model import Dataset
from .reach import PrimaryKeys

ISOLATION_TABLE = "troth_isolated"
# MariaDB limits an index to 3072 bytes (4 per character in utf8mb4): collection + row key fit.
ROW_KEY_LENGTH = 500

Seal = Callable[[bytes, bytes], bytes]
Open = Callable[[bytes, bytes], bytes]

_metadata = MetaData()
isolated_rows = Table(
    ISOLATION_TABLE,
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("collection", String(255), nullable=False),
    Column("row_key", String(ROW_KEY_LENGTH), nullable=False),
    Column("rule", String(255), nullable=False),
    # the names of the fields sealed (never their values)
    Column("fields", String(1024), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
    Column("isolated_at", DateTime(timezone=True), nullable=False),
    Index("ix_troth_isolated_row", "collection", "row_key"),
)


@dataclass(frozen=True)
class IsolatedRow:
    """One row's isolated values, opened for an auditor."""

    dataset: str
    collection: str
    row_key: tuple[Any, ...]
    rule: str
    isolated_at: datetime
    values: dict[str, Any]


def row_key(key: Sequence[Any]) -> str:
    """A row's primary key as the text ``troth_isolated`` stores (JSON; values that JSON cannot
    carry as they are, dates say, as their text)."""
    return json.dumps(list(key), default=str, separators=(",", ":"))


def _aad(dataset: str, collection: str, key: str, rule: str) -> bytes:
    """What a sealed value is bound to: moved to another row, it no longer opens."""
    return "\x00".join(("troth isolated", dataset, collection, key, rule)).encode()


def ensure_table(engine: Engine) -> None:
    """Create ``troth_isolated`` in the company database unless it is there."""
    _metadata.create_all(engine, tables=[isolated_rows], checkfirst=True)


def has_table(conn: Connection) -> bool:
    return bool(inspect(conn).has_table(ISOLATION_TABLE))


def isolate(
    conn: Connection,
    dataset: Dataset,
    collection: str,
    rule: str,
    fields: Sequence[str],
    rows: Iterable[tuple[tuple[Any, ...], Sequence[Any]]],
    *,
    seal: Seal,
    now: datetime,
) -> int:
    """Seal each row's values of ``fields`` into ``troth_isolated`` (``rows``: pairs of primary
    key and values, in the order of ``fields``), in the caller's transaction; returns how many
    rows were written. Rows whose fields are all empty are left out."""
    records = []
    for key, values in rows:
        if all(v is None for v in values):
            continue
        text = row_key(key)
        if len(text) > ROW_KEY_LENGTH:
            raise ValueError(
                f"{dataset.key}.{collection}: a primary key longer than {ROW_KEY_LENGTH} "
                "characters cannot be isolated"
            )
        payload = json.dumps(dict(zip(fields, values, strict=True)), default=str).encode()
        records.append(
            {
                "collection": collection,
                "row_key": text,
                "rule": rule,
                "fields": ",".join(fields),
                "sealed": seal(payload, _aad(dataset.key, collection, text, rule)),
                "isolated_at": now,
            }
        )
    if records:
        conn.execute(insert(isolated_rows), records)
    return len(records)


def _chunks(keys: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _of_rows(collection: str, keys: list[str]) -> ColumnElement[bool]:
    return and_(isolated_rows.c.collection == collection, isolated_rows.c.row_key.in_(keys))


def read(
    conn: Connection, dataset: Dataset, keys: PrimaryKeys, *, open_: Open
) -> list[IsolatedRow]:
    """The isolated values of the rows ``keys`` names (primary keys per collection), opened."""
    if not has_table(conn):
        return []
    found: list[IsolatedRow] = []
    for collection, pks in keys.items():
        texts = {row_key(k): k for k in pks}
        for chunk in _chunks(sorted(texts)):
            query = (
                select(isolated_rows)
                .where(_of_rows(collection, chunk))
                .order_by(isolated_rows.c.row_key, isolated_rows.c.id)
            )
            for record in conn.execute(query).mappings():
                aad = _aad(dataset.key, collection, record["row_key"], record["rule"])
                values = json.loads(open_(bytes(record["sealed"]), aad))
                found.append(
                    IsolatedRow(
                        dataset=dataset.key,
                        collection=collection,
                        row_key=tuple(texts[record["row_key"]]),
                        rule=record["rule"],
                        isolated_at=record["isolated_at"],
                        values=values,
                    )
                )
    return found


def _per_collection(
    conn: Connection, keys: PrimaryKeys, run: Callable[[ColumnElement[bool]], int]
) -> dict[str, int]:
    """``run`` over the isolated rows of the rows ``keys`` names, a chunk of keys at a time;
    its results summed per collection (collections with none left out)."""
    if not has_table(conn):
        return {}
    counts: dict[str, int] = {}
    for collection, pks in keys.items():
        texts = sorted({row_key(k) for k in pks})
        total = sum(run(_of_rows(collection, chunk)) for chunk in _chunks(texts))
        if total:
            counts[collection] = total
    return counts


def count(conn: Connection, keys: PrimaryKeys) -> dict[str, int]:
    """Isolated rows per collection among the rows ``keys`` names."""
    query = select(func.count()).select_from(isolated_rows)
    return _per_collection(conn, keys, lambda rows: int(conn.scalar(query.where(rows)) or 0))


def erase(conn: Connection, keys: PrimaryKeys) -> dict[str, int]:
    """Delete the isolated rows of the rows ``keys`` names, in the caller's transaction."""
    return _per_collection(
        conn, keys, lambda rows: int(conn.execute(delete(isolated_rows).where(rows)).rowcount)
    )


def per_rule(conn: Connection, collections: Iterable[str]) -> dict[str, int]:
    """Isolated rows of ``collections`` per rule (for the review)."""
    names = sorted(set(collections))
    if not names or not has_table(conn):
        return {}
    query = (
        select(isolated_rows.c.rule, func.count())
        .where(isolated_rows.c.collection.in_(names))
        .group_by(isolated_rows.c.rule)
    )
    return {rule: int(n) for rule, n in conn.execute(query)}


def release(
    conn: Connection, collections: Iterable[str], isolating_rules: Iterable[str]
) -> dict[str, int]:
    """Delete the isolated rows of ``collections`` whose rule no longer isolates (the
    declaration changed its action, or no longer has it): their final delete. How many went,
    per rule."""
    keep = set(isolating_rules)
    gone = {rule: n for rule, n in per_rule(conn, collections).items() if rule not in keep}
    if gone:
        conn.execute(
            delete(isolated_rows).where(
                isolated_rows.c.collection.in_(sorted(set(collections))),
                isolated_rows.c.rule.in_(sorted(gone)),
            )
        )
    return gone
