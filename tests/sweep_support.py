"""A small shop database for retention sweeps (troth.datasets.sweep), on SQLite, PostgreSQL or
MariaDB, with rows on both sides of each rule's cutoff under a moved clock.

Rules (from examples/kestrel/privacy.yaml): ``analytics`` anonymizes after 2 years,
``visitor_logs`` deletes after 90 days, ``financial_records`` deletes after 7 years (with a legal
basis), ``project_data`` isolates five years after the project closed (with a legal basis).

The sweep, isolation and plan tests share the fixtures here (``shop`` on each company-database
backend, ``sqlite_shop``) by importing them: ``from sweep_support import shop_fixture``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from dataset_backends import fresh_engine
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
)

from troth.datasets import Dataset, Target, read_datasets
from troth.datasets.holds import Holds
from troth.datasets.sweep import SweepCounts, sweep_dataset
from troth.declaration import Policy
from troth.subjects import Keyring, MasterKey

# The moved clock: every test sweeps "now" in 2031.
NOW = datetime(2031, 3, 15, 12, 0, tzinfo=UTC)
HASH_KEY = b"s" * 32
# seals what project_data isolates
KEYRING = Keyring(MasterKey(b"i" * 32, source="the shop's test key"))

SHOP_YAML = """
dataset:
  - fides_key: shop
    collections:
      - name: member
        troth: {timestamp: last_seen_at}
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
            troth: {retention: analytics}
          - name: name
            data_categories: [user.name]
            troth: {retention: analytics}
          - name: phone
            data_categories: [user.contact.phone_number]
            troth: {retention: analytics}
          - name: postal_code
            data_categories: [user.contact.address.postal_code]
            troth: {retention: analytics}
          - name: city
            data_categories: [user.contact.address.city]
            troth: {retention: analytics}
          - name: born
            data_categories: [user.demographic.date_of_birth]
            troth: {retention: analytics}
          - name: gender
            data_categories: [user.demographic.gender]
            troth: {retention: analytics}
          - name: first_order_at
            data_categories: [user.behavior.purchase_history]
            troth: {retention: analytics}
          - name: last_seen_at
            data_categories: [system.operations]
      - name: visit
        troth: {timestamp: at}
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: member_id
            fides_meta:
              references: [{dataset: shop, field: member.id, direction: from}]
          - name: ip
            data_categories: [user.device.ip_address]
            troth: {mask: delete_row, retention: visitor_logs}
          - name: page
            data_categories: [user.behavior.browsing_history]
            troth: {retention: visitor_logs}
          - name: at
            data_categories: [system.operations]
      - name: invoice
        troth: {timestamp: issued_at}
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: member_id
            fides_meta:
              references: [{dataset: shop, field: member.id, direction: from}]
          - name: billing_name
            data_categories: [user.name]
            troth: {mask: fixed, value: erased, retention: financial_records}
          - name: card
            data_categories: [user.financial.credit_card]
            troth: {mask: hash, retention: financial_records}
          - name: note
            data_categories: [user.content.private]
            troth: {retention: financial_records}
          - name: issued_at
            data_categories: [system.operations]
      - name: payment
        troth: {timestamp: paid_at}
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: member_id
            fides_meta:
              references: [{dataset: shop, field: member.id, direction: from}]
          - name: device
            data_categories: [user.device.device_id]
            troth: {mask: delete_row, retention: visitor_logs}
          - name: payer
            data_categories: [user.name]
            troth: {retention: financial_records}
          - name: paid_at
            data_categories: [system.operations]
      - name: project_note
        troth: {timestamp: closed_at}
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: member_id
            fides_meta:
              references: [{dataset: shop, field: member.id, direction: from}]
          - name: body
            data_categories: [user.content.private]
            troth: {retention: project_data}
          - name: closed_at
            data_categories: [system.operations]
"""

TABLES = ("member", "visit", "invoice", "payment", "project_note")


def shop_dataset() -> Dataset:
    (dataset,) = read_datasets(SHOP_YAML, "shop.yaml")
    return dataset


def erasable_shop_yaml() -> str:
    """The shop with its NOT NULL e-mail hashed by erasure (nullify cannot empty it): a dataset
    `troth datasets check` accepts, so rights requests and the console can bind it."""
    old = (
        "fides_meta: {identity: email, data_type: string}\n"
        "            troth: {retention: analytics}"
    )
    assert old in SHOP_YAML
    new = old.replace("{retention: analytics}", "{retention: analytics, mask: hash}")
    return SHOP_YAML.replace(old, new)


def _keyed(metadata: MetaData, name: str, *columns: Column[Any]) -> Table:
    """A shop table keyed by the ``id`` its rows bring with them, then ``columns``."""
    return Table(
        name, metadata, Column("id", Integer, primary_key=True, autoincrement=False), *columns
    )


def _members(metadata: MetaData, name: str, *columns: Column[Any]) -> Table:
    """A shop table whose rows each belong to a member."""
    return _keyed(metadata, name, Column("member_id", Integer, ForeignKey("member.id")), *columns)


def shop_tables(metadata: MetaData) -> dict[str, Table]:
    tables = [
        _keyed(
            metadata,
            "member",
            Column("email", String(100), nullable=False, unique=True),
            Column("name", String(100)),
            Column("phone", String(40)),
            Column("postal_code", String(20)),
            Column("city", String(100)),
            Column("born", Date),
            Column("gender", String(20)),
            Column("first_order_at", DateTime),
            Column("last_seen_at", DateTime),
        ),
        _members(
            metadata,
            "visit",
            Column("ip", String(64)),
            Column("page", String(200)),
            Column("at", DateTime),
        ),
        _members(
            metadata,
            "invoice",
            Column("billing_name", String(100), nullable=False),
            Column("card", Text),
            Column("note", String(200)),
            Column("issued_at", DateTime),
        ),
        _members(
            metadata,
            "payment",
            Column("device", String(64)),
            Column("payer", String(100)),
            Column("paid_at", DateTime),
        ),
        _members(metadata, "project_note", Column("body", Text), Column("closed_at", DateTime)),
    ]
    return {table.name: table for table in tables}


def t(*parts: int) -> datetime:
    """A naive UTC moment, as the shop's DATETIME columns hold it."""
    return datetime(*parts)  # type: ignore[arg-type]


# analytics (P2Y): cutoff 2029-03-15 12:00. Members 1, 2, 5 have expired; 3 has not; 4 has no
# clock yet.
MEMBERS: list[dict[str, Any]] = [
    {"id": n, "email": f"member{n}@example.org", "name": f"Ada Lovelace {n}",
     "phone": f"+44 20 7946 00{n:02d}", "postal_code": f"SW1A {n}AA", "city": "London",
     "born": date(1980 + n, 7, 14), "gender": "female" if n % 2 else "male",
     "first_order_at": t(2019, 5, 6, 7, 8, 9), "last_seen_at": seen}
    for n, seen in [
        (1, t(2028, 1, 10)),
        (2, t(2029, 3, 15, 11, 0)),
        (3, t(2029, 3, 15, 13, 0)),
        (4, None),
        (5, t(2020, 2, 29)),
    ]
]  # fmt: skip
# visitor_logs (P90D): cutoff 2030-12-15 12:00.
VISITS: list[dict[str, Any]] = [
    {"id": 10 + i, "member_id": 1 + i % 5, "ip": f"198.51.100.{i}", "page": f"/page/{i}", "at": at}
    for i, at in enumerate(
        [
            t(2030, 1, 1),  # expired
            t(2030, 12, 15, 11, 0),  # expired, just
            t(2030, 12, 15, 13, 0),  # expires in March 2031
            t(2030, 12, 20),  # March
            t(2031, 1, 5),  # April
            t(2031, 3, 1),  # May (2031-05-30)
            t(2031, 3, 10),  # June (2031-06-08)
            None,  # no clock
            t(2025, 6, 1),  # expired
            t(2031, 12, 10),  # expires in March 2032, beyond the plan
        ]
    )
]
# financial_records (P7Y, legal obligation): cutoff 2024-03-15 12:00.
INVOICES: list[dict[str, Any]] = [
    {"id": 100 + i, "member_id": 1 + i % 5, "billing_name": f"Ada Lovelace {1 + i % 5}",
     "card": card, "note": f"note {i}", "issued_at": at}
    for i, (card, at) in enumerate(
        [
            ("4242424242424242", t(2020, 1, 1)),  # expired
            ("4000056655665556", t(2024, 3, 16)),  # not yet
            (None, t(2023, 2, 1)),  # expired, no card
            ("5555555555554444", None),  # no clock
            ("378282246310005", t(2024, 3, 15, 11, 0)),  # expired, just
        ]
    )
]  # fmt: skip
# payments: the device goes after 90 days, but the payer's name is kept for 7 years.
PAYMENTS: list[dict[str, Any]] = [
    {"id": 200 + i, "member_id": 1 + i % 5, "device": f"device-{i}", "payer": f"Payer {i}",
     "paid_at": at}
    for i, at in enumerate([t(2019, 1, 1), t(2030, 1, 1), t(2031, 3, 1)])
]  # fmt: skip
# project_data (P5Y after closing, isolate): cutoff 2026-03-15 12:00. Notes 1 and 3 have expired
# (3 has no body to isolate); 2 has not; 4 has no clock. Member 3's notes stay reachable (the
# analytics sweep leaves member 3 alone).
ISOLATED_NOTES = {1}
NOTES: list[dict[str, Any]] = [
    {"id": 1, "member_id": 3, "body": "warranty claim", "closed_at": t(2020, 1, 1)},
    {"id": 2, "member_id": 3, "body": "follow-up work", "closed_at": t(2028, 1, 1)},
    {"id": 3, "member_id": 4, "body": None, "closed_at": t(2021, 6, 1)},
    {"id": 4, "member_id": 4, "body": "open ticket", "closed_at": None},
]


def load_shop(engine: Engine) -> None:
    """Create the shop's tables and rows in ``engine``'s database."""
    metadata = MetaData()
    tables = shop_tables(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for name, rows in (
            ("member", MEMBERS),
            ("visit", VISITS),
            ("invoice", INVOICES),
            ("payment", PAYMENTS),
            ("project_note", NOTES),
        ):
            conn.execute(insert(tables[name]), rows)


def dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every shop table, ordered by id, with values as Python reads them."""
    metadata = MetaData()
    tables = shop_tables(metadata)
    with engine.connect() as conn:
        return {
            name: [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]
            for name, table in tables.items()
        }


# -- the shop bound and swept ---------------------------------------------------------------------


@contextmanager
def shop_engine(backend: str, server_url: str | None) -> Iterator[Engine]:
    """An engine on a fresh database of ``backend`` (dataset_backends) holding the shop."""
    with fresh_engine(backend, server_url) as engine:
        load_shop(engine)
        yield engine


@pytest.fixture(name="shop")
def shop_fixture(company_database: tuple[str, str | None]) -> Iterator[Engine]:
    """The shop on SQLite, PostgreSQL and MariaDB (conftest's company_database: the servers are
    required on CI)."""
    with shop_engine(*company_database) as engine:
        yield engine


@pytest.fixture(name="sqlite_shop")
def sqlite_shop_fixture() -> Iterator[Engine]:
    """The shop on SQLite only, for what does not depend on the backend."""
    with shop_engine("sqlite", None) as engine:
        yield engine


def shop_target(engine: Engine, policy: Policy, dataset: Dataset | None = None) -> Target:
    """The shop (or another ``dataset``) bound to ``engine``. The shop is built for the sweep's
    edge cases (a NOT NULL e-mail under anonymization whose default erasure mask cannot empty
    it): `troth datasets check` would refuse it for rights requests, so it is bound with
    ``check=False``."""
    return Target(dataset or shop_dataset(), engine, policy=policy, check=False)


def sweep_shop(
    engine: Engine, policy: Policy, holds: Holds | None = None, **kw: Any
) -> SweepCounts:
    """One sweep of the shop as of NOW, sealing what it isolates with KEYRING."""
    kw.setdefault("seal", KEYRING.seal_isolated)
    target = shop_target(engine, policy)
    return sweep_dataset(target, policy, NOW, holds or Holds(), hash_key=HASH_KEY, **kw)


def by_id(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in rows}


def naive(value: Any) -> Any:
    """A datetime without its zone, to compare with the naive moments above; anything else as is."""
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value
