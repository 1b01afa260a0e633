"""Erasure over a company database, compiled to set-based SQL (P12, P19).

:class:`Target` is a :class:`~troth.datasets.reach.Reach` (a dataset bound to a live database,
finding the rows a request's identities reach as one statement per collection) that can also
erase what it finds. Each collection's rows are masked or deleted where they are, by statements
over the rows its reach finds; troth never fetches rows to decide what to change. Keyed hashes
are computed in the statement on PostgreSQL (HMAC-SHA256 from its built-in ``sha256``);
elsewhere troth computes them and writes them back by primary key in one batch.

Erasure writes in an order that keeps every collection reachable until its own statement has run:
a collection whose fields another collection's reach reads (``customer.email`` for everything
under the customer) is written after that collection. Where no such order exists (a masked column
that is also the key of a reference cycle, say), the primary keys of every reachable row are
read first and each statement targets those keys.

A field under a retention rule with a legal basis is kept in each row whose clock (the field's or
collection's ``timestamp`` column) has not run out, or has not started (the column is empty): the
statement masks it only where the rule no longer holds, and a row with a held field is not
deleted. What was kept is reported per field, with the rule and the number of rows.

Legal holds in force (:class:`~troth.datasets.holds.Holds`) narrow an erasure further: a held
collection (``KEY.COLLECTION``) is not written at all, and a field under a held category is kept
in every row (so a row holding one is not deleted). Both are reported as kept under the rule
``legal_hold``. Holds on the subject or on the whole dataset are decided by the caller, which
then does not erase the dataset at all.

The caller owns the transaction (``with engine.begin() as conn``): an erasure is all or nothing,
and running it again finds nothing more to change (a keyed hash is recognised and not hashed
twice), so a worker that dies after the commit but before recording it changes nothing on retry.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    update,
)

from troth.declaration.model import RetentionRule

from . import isolation
from .hashing import HASH_PATTERN, is_keyed_hash, keyed_hash, sql_keyed_hash
from .model import Collection, Field
from .reach import Identities, PrimaryKeys, Reach, pk_columns

if TYPE_CHECKING:
    from .holds import Holds

# The rule reported for what a legal hold keeps (a hold is not a retention rule of the
# declaration, but the requester is told about it the same way).
LEGAL_HOLD = "legal_hold"


@dataclass(frozen=True)
class KeptField:
    """A field erasure left in place because a retention rule with a legal basis holds it."""

    collection: str
    field: str
    rule: str
    rows: int

    def as_json(self) -> dict[str, str | int]:
        return {
            "collection": self.collection,
            "field": self.field,
            "rule": self.rule,
            "rows": self.rows,
        }


@dataclass
class Erasure:
    """What one erasure changed: rows updated and deleted per collection, fields kept, and
    isolated rows deleted per collection (values a retention rule had isolated)."""

    masked: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    kept: list[KeptField] = field(default_factory=list)
    isolated: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "masked": dict(self.masked),
            "deleted": dict(self.deleted),
            "kept": [k.as_json() for k in self.kept],
        }
        if self.isolated:
            found["isolated"] = dict(self.isolated)
        return found


def jsonable(value: Any) -> Any:
    """A column value as JSON can carry it (for the access bundle)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


class Target(Reach):
    """A dataset bound to a live database (:class:`~troth.datasets.reach.Reach`) that can erase
    what the identities reach: :meth:`plan` counts what :meth:`erase` changes."""

    def _rule(self, f: Field) -> RetentionRule | None:
        if f.retention is None or self.policy is None:
            return None
        rule = self.policy.retention_rules.get(f.retention)
        return rule if rule is not None and rule.legal_basis is not None else None

    def _held(
        self,
        table: Table,
        collection: Collection,
        f: Field,
        now: datetime,
        holds: Holds | None = None,
    ) -> ColumnElement[bool] | None:
        """Rows in which a legal hold or a legal retention rule still holds ``f``, or None if
        none can."""
        if holds is not None and holds.holds_field(f):
            return true()
        rule = self._rule(f)
        stamp = f.timestamp or collection.timestamp
        if rule is None or stamp is None:
            return None
        column = table.c[stamp]
        cutoff = rule.period.subtract_from(now.astimezone(UTC))
        if not getattr(column.type, "timezone", False):
            cutoff = cutoff.replace(tzinfo=None)
        return or_(column.is_(None), column > cutoff)

    def _reads(self, name: str) -> set[tuple[str, str]]:
        """Columns the reach of ``name`` reads: identity columns and reference keys upstream."""
        found: set[tuple[str, str]] = set()
        pending = [name]
        seen = set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            for f in self.dataset.collection(current).identities:
                found.add((current, f.name))
            for edge in self.traversal.incoming.get(current, ()):
                found.add((current, edge.target_field))
                found.add((edge.source, edge.source_field))
                pending.append(edge.source)
        return found

    def _order(self) -> list[str] | None:
        """Collections in an order where none is written before a collection that reads it, or
        None when there is no such order."""
        order = list(self.traversal.order)
        writes: dict[str, set[str] | None] = {}  # None: rows are deleted (every column)
        for name in order:
            collection = self.dataset.collection(name)
            writes[name] = (
                None if collection.deletes_rows else {f.name for f in collection.personal}
            )
        before: dict[str, set[str]] = {n: set() for n in order}  # n must run before each of these
        for reader in order:
            for writer in order:
                if writer == reader:
                    continue
                written = writes[writer]
                if any(
                    c == writer and (written is None or col in written)
                    for c, col in self._reads(reader)
                ):
                    before[reader].add(writer)
        # foreign keys: a row that references a row about to be deleted goes first
        for child in order:
            for fk in self.tables[child].foreign_keys:
                parent = fk.column.table.name
                if parent in writes and writes[parent] is None and parent != child:
                    before[child].add(parent)
        result: list[str] = []
        remaining = list(reversed(order))  # leaves first, where nothing says otherwise
        while remaining:
            ready = next(
                (
                    n
                    for n in remaining
                    if not any(n in before[other] for other in remaining if other != n)
                ),
                None,
            )
            if ready is None:
                return None
            result.append(ready)
            remaining.remove(ready)
        return result

    def _fk_order(self) -> list[str]:
        """Collections with referencing tables before the tables they reference (foreign keys),
        leaves first where nothing says otherwise."""
        pending = list(reversed(self.traversal.order))
        result: list[str] = []
        while pending:
            ready = next(
                (
                    name
                    for name in pending
                    if not any(
                        other != name
                        and any(
                            fk.column.table.name == name for fk in self.tables[other].foreign_keys
                        )
                        for other in pending
                    )
                ),
                None,
            )
            if ready is None:  # a cycle of foreign keys: the rest in the order they are
                result.extend(pending)
                break
            result.append(ready)
            pending.remove(ready)
        return result

    def plan(
        self,
        conn: Connection,
        identities: Identities,
        *,
        now: datetime,
        holds: Holds | None = None,
    ) -> Erasure:
        """What :meth:`erase` would change, counted without changing anything: rows to mask and
        to delete per collection, and the fields kept. A request records this before it erases,
        so that its report is the same however often the erasure itself is repeated."""
        self._refuse_unreachable()
        keys = self._cycle_keys(conn, identities)
        result = Erasure()
        result.isolated = isolation.count(conn, self._isolated_keys(conn, identities, keys, holds))
        for name in self.traversal.order:
            self._count_kept(conn, name, identities, keys, now, result, holds)
            if not self._collection_held(name, holds):
                self._count_collection(conn, name, identities, keys, now, result, holds)
        return result

    def erase(
        self,
        conn: Connection,
        identities: Identities,
        *,
        now: datetime,
        hash_key: bytes,
        report: bool = True,
        holds: Holds | None = None,
    ) -> Erasure:
        """Mask or delete every reachable personal field the dataset declares, keeping what a
        legal retention rule or a legal hold (``holds``) keeps. Runs in the caller's transaction.
        Without ``report`` the fields kept are not counted (a caller that recorded :meth:`plan`
        first needs no count)."""
        self._refuse_unreachable()
        keys = self._cycle_keys(conn, identities)
        # Isolated values go with the rows they came from (their final delete): found by the
        # rows' keys before anything changes.
        isolated = isolation.erase(conn, self._isolated_keys(conn, identities, keys, holds))
        order = (
            None if any(self.traversal.cyclic(n) for n in self.traversal.order) else self._order()
        )
        if order is None:
            # No safe order (or a cycle): pin every reachable row by its primary key first.
            keys = self._all_keys(conn, identities, keys)
            order = self._fk_order()
        result = Erasure(isolated=isolated)
        # Count what is kept before anything changes: afterwards the rows are no longer reachable.
        if report:
            for name in self.traversal.order:
                self._count_kept(conn, name, identities, keys, now, result, holds)
        for name in order:
            if not self._collection_held(name, holds):
                self._erase_collection(conn, name, identities, keys, now, hash_key, result, holds)
        return result

    def _isolated_keys(
        self,
        conn: Connection,
        identities: Identities,
        keys: PrimaryKeys,
        holds: Holds | None,
    ) -> PrimaryKeys:
        """Primary keys of the reachable rows whose isolated values an erasure deletes: none
        when troth never isolated anything in this database, none in a collection a legal hold
        keeps or in which it keeps a field."""
        if not isolation.has_table(conn):
            return {}
        every = self._all_keys(conn, identities, keys)
        return {
            name: pks
            for name, pks in every.items()
            if pks
            and not self._collection_held(name, holds)
            and not (
                holds is not None
                and any(holds.holds_field(f) for f in self.dataset.collection(name).personal)
            )
        }

    def _collection_held(self, name: str, holds: Holds | None) -> bool:
        return holds is not None and holds.holds_collection(
            self.dataset, self.dataset.collection(name)
        )

    def _count_kept(
        self,
        conn: Connection,
        name: str,
        identities: Identities,
        keys: PrimaryKeys,
        now: datetime,
        result: Erasure,
        holds: Holds | None,
    ) -> None:
        """What an erasure keeps in ``name``: the whole collection when a legal hold keeps it,
        else the fields a legal hold or a legal retention rule keeps."""
        if self._collection_held(name, holds):
            self._count_held_collection(conn, name, identities, keys, result)
        else:
            self._count_kept_fields(conn, name, identities, keys, now, result, holds)

    def _count_collection(
        self,
        conn: Connection,
        name: str,
        identities: Identities,
        keys: PrimaryKeys,
        now: datetime,
        result: Erasure,
        holds: Holds | None,
    ) -> None:
        """The rows of ``name`` :meth:`_erase_collection` would delete and mask, counted."""
        table = self.tables[name]
        collection = self.dataset.collection(name)
        personal = [f for f in collection.personal if not f.read_only]
        if not personal:
            return
        where = self._where(table, name, identities, keys)
        held = [
            h for f in personal if (h := self._held(table, collection, f, now, holds)) is not None
        ]
        masked_where = where
        if collection.deletes_rows:
            deletable = and_(where, not_(or_(*held))) if held else where
            deleted = conn.scalar(select(func.count()).select_from(table).where(deletable))
            if deleted:
                result.deleted[name] = int(deleted)
            if not held:
                return
            masked_where = and_(where, or_(*held))
        if not any(f.mask != "delete_row" for f in _written(personal, holds)):
            return  # nothing left to mask: what is not deleted is kept
        masked = conn.scalar(select(func.count()).select_from(table).where(masked_where))
        if masked:
            result.masked[name] = int(masked)

    def _count_held_collection(
        self,
        conn: Connection,
        name: str,
        identities: Identities,
        keys: PrimaryKeys,
        result: Erasure,
    ) -> None:
        """A collection a legal hold keeps whole: its reachable rows, reported as kept."""
        collection = self.dataset.collection(name)
        if not collection.personal:
            return
        table = self.tables[name]
        where = self._where(table, name, identities, keys)
        rows = conn.scalar(select(func.count()).select_from(table).where(where))
        if rows:
            result.kept.append(KeptField(name, "*", LEGAL_HOLD, int(rows)))

    def _count_kept_fields(
        self,
        conn: Connection,
        name: str,
        identities: Identities,
        keys: PrimaryKeys,
        now: datetime,
        result: Erasure,
        holds: Holds | None = None,
    ) -> None:
        """The fields of ``name`` a legal hold or a legal retention rule keeps, with the rows in
        which each is kept."""
        table = self.tables[name]
        collection = self.dataset.collection(name)
        held = [(f, self._held(table, collection, f, now, holds)) for f in collection.personal]
        counted = [(f, h) for f, h in held if h is not None]
        if not counted:
            return
        where = self._where(table, name, identities, keys)
        row = conn.execute(
            select(*(func.count(case((h, 1))) for _, h in counted)).where(where)
        ).one()
        for (f, _), rows in zip(counted, row, strict=True):
            if rows:
                if holds is not None and holds.holds_field(f):
                    key = LEGAL_HOLD
                else:
                    rule = self._rule(f)
                    assert rule is not None
                    key = rule.key
                result.kept.append(KeptField(name, f.name, key, int(rows)))

    def _erase_collection(
        self,
        conn: Connection,
        name: str,
        identities: Identities,
        keys: PrimaryKeys,
        now: datetime,
        hash_key: bytes,
        result: Erasure,
        holds: Holds | None = None,
    ) -> None:
        table = self.tables[name]
        collection = self.dataset.collection(name)
        personal = [f for f in collection.personal if not f.read_only]
        if not personal:
            return
        where = self._where(table, name, identities, keys)
        held = {f.name: self._held(table, collection, f, now, holds) for f in personal}
        any_held = [h for h in held.values() if h is not None]
        if collection.deletes_rows:
            deletable = and_(where, not_(or_(*any_held))) if any_held else where
            deleted = conn.execute(delete(table).where(deletable)).rowcount
            if deleted:
                result.deleted[name] = deleted
            if not any_held:
                return
        # A field a legal hold keeps is left out of the statements (it still stops its row's
        # deletion above).
        personal = _written(personal, holds)
        if not personal:
            return
        # The hashes are computed before the other fields are masked and written after, so that
        # neither statement hides a row from the other (the row may be found by a hashed column,
        # or by one that the update masks).
        hashed = [f for f in personal if f.mask == "hash"]
        values: dict[Column[Any], Any] = {}
        if self.postgres:
            # PostgreSQL computes the keyed hash itself, in the same UPDATE as the other masks.
            for f in hashed:
                column = table.c[f.name]
                h = held[f.name]
                keep = or_(column.is_(None), column.op("~")(HASH_PATTERN))
                if h is not None:
                    keep = or_(h, keep)
                values[column] = case((keep, column), else_=sql_keyed_hash(column, hash_key))
            hashed = []
        hashes = (
            self._hashes(conn, table, collection, hashed, where, held, hash_key) if hashed else []
        )
        for f in personal:
            if f.mask in ("hash", "delete_row"):
                continue  # hashed here; a row kept whole by a hold keeps delete_row fields
            column = table.c[f.name]
            masked: Any = null() if f.mask == "nullify" else literal(f.value, type_=column.type)
            h = held[f.name]
            values[column] = masked if h is None else case((h, column), else_=masked)
        # MariaDB and MySQL assign left to right, each assignment seeing the ones before it: a
        # hold must read its clock before the clock itself is masked, so clocks go last.
        clocks = {f.timestamp or collection.timestamp for f in personal}
        ordered = sorted(values.items(), key=lambda item: item[0].name in clocks)
        updated = (
            conn.execute(update(table).where(where).ordered_values(*ordered)).rowcount
            if values
            else 0
        )
        if hashes:
            pk = pk_columns(table, collection)
            statement = (
                update(table)
                .where(and_(*(c == bindparam(f"k_{c.name}") for c in pk)))
                .values({table.c[f.name]: bindparam(f"v_{f.name}") for f in hashed})
            )
            conn.execute(statement, hashes)
        if updated or hashes:
            result.masked[name] = max(updated, len(hashes))

    def _hashes(
        self,
        conn: Connection,
        table: Table,
        collection: Collection,
        fields: list[Field],
        where: ColumnElement[bool],
        held: dict[str, ColumnElement[bool] | None],
        hash_key: bytes,
    ) -> list[dict[str, Any]]:
        """The keyed hash of each field masked with ``hash``, as parameters of one batched
        update by primary key (``k_<key>``, ``v_<field>``); rows whose values are already hashed,
        empty or held by a rule are left out."""
        pk = pk_columns(table, collection)
        flags = [
            case((h, 1), else_=0) if (h := held[f.name]) is not None else literal(0) for f in fields
        ]
        query = select(*pk, *(table.c[f.name] for f in fields), *flags).where(where)
        params: list[dict[str, Any]] = []
        width, count = len(pk), len(fields)
        for row in conn.execute(query):
            values, holds = row[width : width + count], row[width + count :]
            change: dict[str, Any] = {}
            for f, value, is_held in zip(fields, values, holds, strict=True):
                keep = is_held or value is None or is_keyed_hash(value)
                change[f"v_{f.name}"] = value if keep else keyed_hash(hash_key, value)
            if change != {f"v_{f.name}": v for f, v in zip(fields, values, strict=True)}:
                params.append(
                    {f"k_{c.name}": v for c, v in zip(pk, row[:width], strict=True)} | change
                )
        return params


def _written(fields: list[Field], holds: Holds | None) -> list[Field]:
    """The fields an erasure writes: those no legal hold keeps."""
    return [f for f in fields if holds is None or not holds.holds_field(f)]
