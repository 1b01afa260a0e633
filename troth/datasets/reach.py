"""Finding a person's rows in a company database, compiled to set-based SQL (P10–P13).

:class:`Reach` binds a dataset to a live database and finds the rows a request's identities
reach. Each request becomes one statement per collection, whatever the number of people or rows:
a collection's rows are found by its identity columns (``email IN (...)``) or through the
references that lead to it, as nested ``IN`` subqueries (``login.customer_id IN (SELECT c.id FROM
customer c WHERE c.email IN (...))``). The database's own planner does the joining; troth never
fetches rows to decide what to change.

Collections that reach one another through a cycle of references are found by the primary keys
of their reachable rows, read step by step until no new row appears.
:meth:`Reach.reachable_keys` reads those keys for every collection.

Binding fails closed: a dataset that cannot be acted on as declared against this database
(``troth datasets check``) is refused, and a rights request is refused while some personal field
is not reachable from any identity. Erasure builds on this in :mod:`troth.datasets.run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    any_,
    bindparam,
    false,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql

from troth.declaration import Policy

from .check import check_dataset, reachability_problems, reflect
from .graph import Traversal, traverse
from .model import Collection, Dataset, DatasetError

Identities = Mapping[str, Sequence[Any]]
PrimaryKeys = dict[str, list[tuple[Any, ...]]]


class Reach:
    """A dataset bound to a live database, finding the rows identities reach. The tables are
    reflected once, when bound."""

    def __init__(
        self,
        dataset: Dataset,
        engine: Engine,
        *,
        policy: Policy | None = None,
        check: bool = True,
    ) -> None:
        self.dataset = dataset
        self.engine = engine
        self.policy = policy
        self.postgres = engine.dialect.name == "postgresql"
        self.traversal: Traversal = traverse(dataset)
        # Fail closed: a dataset that cannot be acted on as declared against this database
        # (troth datasets check) is refused before any request touches it.
        # Personal data no identity reaches stops rights requests (access, plan, erase) but not
        # a retention sweep, which needs no identity. (``check=False`` only for tests that
        # exercise one part on a dataset built for it.)
        metadata = reflect(engine, dataset)
        self._unreachable = reachability_problems(dataset) if check else []
        unreachable = {(p.line, p.column, p.message) for p in self._unreachable}
        errors = [
            p
            for p in check_dataset(dataset, policy=policy, metadata=metadata)
            if p.severity == "error" and (p.line, p.column, p.message) not in unreachable
        ]
        if errors and check:
            raise DatasetError(errors)
        self.tables: dict[str, Table] = {
            c.name: metadata.tables[c.name] for c in dataset.collections
        }

    def _refuse_unreachable(self) -> None:
        """A rights request must find every personal field: fail closed when some cannot be."""
        if self._unreachable:
            raise DatasetError(self._unreachable)

    # -- finding rows -------------------------------------------------------------------------

    def _where(
        self, table: Any, name: str, identities: Identities, keys: PrimaryKeys
    ) -> ColumnElement[bool]:
        """Rows of ``table`` (collection ``name``, or an alias of it) reachable from the
        identities; collections in ``keys`` are found by their primary keys instead."""
        if name in keys:
            return pk_in(pk_columns(table, self.dataset.collection(name)), keys[name])
        return self._step(table, name, identities, keys)

    def _step(
        self, table: Any, name: str, identities: Identities, keys: PrimaryKeys
    ) -> ColumnElement[bool]:
        """Rows of ``name`` that its identity columns or one reference from a reachable row
        find."""
        conditions: list[ColumnElement[bool]] = []
        for f in self.dataset.collection(name).identities:
            values = [v for v in identities.get(f.identity or "", ()) if v is not None]
            if values:
                conditions.append(self._among(table.c[f.name], values))
        for edge in self.traversal.incoming.get(name, ()):
            source = self.tables[edge.source].alias()
            inner = self._where(source, edge.source, identities, keys)
            conditions.append(
                table.c[edge.target_field].in_(
                    select(source.c[edge.source_field]).where(inner).correlate(None)
                )
            )
        return or_(*conditions) if conditions else false()

    def _among(self, column: Any, values: list[Any]) -> ColumnElement[bool]:
        """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter however
        many values (a batch of ten thousand people costs one bind, not ten thousand)."""
        if self.postgres:
            array = bindparam(None, values, type_=postgresql.ARRAY(column.type))
            return column == any_(array)
        in_: ColumnElement[bool] = column.in_(values)
        return in_

    def _cycle_keys(self, conn: Connection, identities: Identities) -> PrimaryKeys:
        """Primary keys of the reachable rows of collections on a cycle of references, found step
        by step until no step adds a row."""
        cyclic = [n for n in self.traversal.order if self.traversal.cyclic(n)]
        keys: PrimaryKeys = {n: [] for n in cyclic}
        grew = bool(cyclic)
        while grew:
            grew = False
            for name in cyclic:
                table = self.tables[name]
                columns = pk_columns(table, self.dataset.collection(name))
                reach = or_(pk_in(columns, keys[name]), self._step(table, name, identities, keys))
                query = select(*columns).where(reach)
                found = sorted(tuple(row) for row in conn.execute(query))
                if found != keys[name]:
                    keys[name] = found
                    grew = True
        return keys

    def _all_keys(self, conn: Connection, identities: Identities, keys: PrimaryKeys) -> PrimaryKeys:
        """Primary keys of every reachable row, per collection, starting from ``keys`` (those of
        the collections on a cycle, from :meth:`_cycle_keys`)."""
        every = dict(keys)
        for name in self.traversal.order:
            if name in every:
                continue
            table = self.tables[name]
            collection = self.dataset.collection(name)
            where = self._where(table, name, identities, every)
            every[name] = sorted(
                tuple(r) for r in conn.execute(select(*pk_columns(table, collection)).where(where))
            )
        return every

    def reachable_keys(self, conn: Connection, identities: Identities) -> PrimaryKeys:
        """Primary keys, per collection, of every row the identities reach."""
        self._refuse_unreachable()
        return self._all_keys(conn, identities, self._cycle_keys(conn, identities))

    # -- access -------------------------------------------------------------------------------

    def access(self, conn: Connection, identities: Identities) -> dict[str, list[dict[str, Any]]]:
        """Every reachable row, per collection, with the dataset's declared fields."""
        self._refuse_unreachable()
        keys = self._cycle_keys(conn, identities)
        found: dict[str, list[dict[str, Any]]] = {}
        for name in self.traversal.order:
            table = self.tables[name]
            collection = self.dataset.collection(name)
            columns = [table.c[f.name] for f in collection.fields]
            query = (
                select(*columns)
                .where(self._where(table, name, identities, keys))
                .order_by(*pk_columns(table, collection))
            )
            found[name] = [dict(row._mapping) for row in conn.execute(query)]
        return found


def pk_columns(table: Any, collection: Collection) -> list[Column[Any]]:
    """The primary-key columns of ``collection`` in ``table`` (its table, or an alias of it)."""
    return [table.c[name] for name in collection.primary_key]


def pk_in(columns: list[Column[Any]], keys: list[tuple[Any, ...]]) -> ColumnElement[bool]:
    """Rows whose primary key (``columns``) is one of ``keys``; none when there are no keys."""
    if not keys:
        return false()
    if len(columns) == 1:
        return columns[0].in_([k[0] for k in keys])
    return tuple_(*columns).in_(keys)
