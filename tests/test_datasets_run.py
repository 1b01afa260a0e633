"""Access and erasure over a company database, by example (troth.datasets.run): Kestrel's client
portal on SQLite, PostgreSQL and MariaDB, then the shapes that need care: a chain of managers
reached step by step, a masked column that is also a join key both ways, and a keyed hash on the
very column that finds the row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from dataset_backends import fresh_engine
from dataset_support import PORTAL, portal_metadata
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
)

from troth.datasets import DatasetError, Erasure, Target, load_datasets, read_datasets
from troth.datasets.hashing import keyed_hash
from troth.declaration import Policy

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
KEY = b"example-hash-key"
ANA, BO, CY = "ana@example.org", "bo@example.org", "cy@example.net"


def _portal_rows() -> dict[str, list[dict[str, Any]]]:
    """Three customers (1 Ana, 2 Bo, 3 Cy); Ana has an old order (past the 7 years of
    financial_records) and a recent one, and visits under her email."""
    rows: dict[str, list[dict[str, Any]]] = {
        "customer": [],
        "address": [],
        "orders": [],
        "order_item": [],
        "payment_card": [],
        "login": [],
        "visit": [],
    }
    for n, email in ((1, ANA), (2, BO), (3, CY)):
        rows["customer"].append(
            {
                "id": n,
                "email": email,
                "name": f"Kund {n} Ølsen",
                "phone": f"+91 98200 0000{n}",
                "created_at": datetime(2024, 1, n),
            }
        )
        rows["address"].append(
            {"id": n, "customer_id": n, "street": "MG Road", "city": "Pune", "postal_code": "411"}
        )
        rows["orders"] += [
            {
                "id": 10 * n,
                "customer_id": n,
                "billing_name": f"Kund {n}",
                "total_cents": 500,
                "created_at": datetime(2016, 5, 1),
            },
            {
                "id": 10 * n + 1,
                "customer_id": n,
                "billing_name": f"Kund {n}",
                "total_cents": 700,
                "created_at": datetime(2025, 5, 1),
            },
        ]
        rows["order_item"].append({"id": n, "order_id": 10 * n, "gift_message": "生日快乐"})
        rows["payment_card"].append({"id": n, "customer_id": n, "holder": "K", "last4": "4242"})
        rows["login"] += [
            {"id": 100 * n + i, "customer_id": n, "ip_address": "203.0.113.7", "at": NOW}
            for i in range(2)
        ]
        rows["visit"].append({"id": n, "email": email, "page": "/pricing"})
    rows["visit"].append({"id": 9, "email": ANA, "page": "/about"})
    return rows


def _build(engine: Engine, metadata: MetaData, rows: dict[str, list[dict[str, Any]]]) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        for name, table_rows in rows.items():
            if table_rows:
                conn.execute(insert(metadata.tables[name]), table_rows)


def _create_tables(
    engine: Engine,
    columns: dict[str, list[Column[Any]]],
    rows: dict[str, list[dict[str, Any]]],
) -> MetaData:
    """One table per entry of ``columns``, keyed by the ``id`` its rows bring, then those
    columns; filled with ``rows``."""
    metadata = MetaData()
    for name, table_columns in columns.items():
        Table(
            name,
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            *table_columns,
        )
    _build(engine, metadata, rows)
    return metadata


def _strings(*names: str) -> list[Column[Any]]:
    return [Column(name, String(100)) for name in names]


def _dump(engine: Engine, metadata: MetaData) -> dict[str, dict[int, tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            name: {row[0]: tuple(row) for row in conn.execute(select(table))}
            for name, table in metadata.tables.items()
        }


@pytest.fixture
def portal(company_database: tuple[str, str | None]) -> Iterator[tuple[Engine, MetaData]]:
    metadata = portal_metadata()
    with fresh_engine(*company_database) as engine:
        _build(engine, metadata, _portal_rows())
        yield engine, metadata


def _portal_target(engine: Engine, policy: Policy | None) -> Target:
    [dataset] = load_datasets(PORTAL)
    return Target(dataset, engine, policy=policy)


def _erase(target: Target, *emails: str) -> Erasure:
    """Erase the subjects found by ``emails``, in one transaction, as of NOW."""
    with target.engine.begin() as conn:
        return target.erase(conn, {"email": list(emails)}, now=NOW, hash_key=KEY)


def test_access_finds_the_customers_rows_through_every_reference(
    portal: tuple[Engine, MetaData],
) -> None:
    engine, _ = portal
    target = _portal_target(engine, None)
    with engine.connect() as conn:
        found = target.access(conn, {"email": [ANA]})
    assert {name: [r["id"] for r in rows] for name, rows in found.items()} == {
        "customer": [1],
        "visit": [1, 9],
        "address": [1],
        "orders": [10, 11],
        "payment_card": [1],
        "login": [100, 101],
        "order_item": [1],
    }
    assert found["customer"][0]["name"] == "Kund 1 Ølsen"
    assert found["order_item"][0]["gift_message"] == "生日快乐"


def test_erasure_masks_the_customer_keeps_recent_billing_names_and_leaves_others(
    portal: tuple[Engine, MetaData], kestrel_policy: Policy
) -> None:
    engine, metadata = portal
    before = _dump(engine, metadata)
    erasure = _erase(_portal_target(engine, kestrel_policy), ANA)
    after = _dump(engine, metadata)
    assert [(k.collection, k.field, k.rule, k.rows) for k in erasure.kept] == [
        ("orders", "billing_name", "financial_records", 1)
    ]
    assert erasure.deleted == {"payment_card": 1, "visit": 2}
    assert after["customer"][1] == (1, None, None, None, datetime(2024, 1, 1))
    assert after["orders"][10][2] == "erased"  # 2016: the seven years have run out
    assert after["orders"][11][2] == "Kund 1"  # 2025: held for the tax law
    assert after["order_item"][1][2] is None
    assert after["login"][100][2] == keyed_hash(KEY, "203.0.113.7")
    assert 1 not in after["payment_card"] and 1 not in after["visit"] and 9 not in after["visit"]
    for name, rows in before.items():  # Bo's and Cy's rows are untouched
        mine = {1, 9} if name in ("visit",) else {10, 11} if name == "orders" else {1}
        if name == "login":
            mine = {100, 101}
        assert {k: v for k, v in after[name].items() if k not in mine} == {
            k: v for k, v in rows.items() if k not in mine
        }


def test_erasing_twice_changes_nothing_more(
    portal: tuple[Engine, MetaData], kestrel_policy: Policy
) -> None:
    engine, metadata = portal
    target = _portal_target(engine, kestrel_policy)
    _erase(target, ANA)
    once = _dump(engine, metadata)
    again = _erase(target, ANA)
    assert _dump(engine, metadata) == once
    assert again.deleted == {}


def test_a_batch_of_two_subjects_is_one_erasure_of_both(
    portal: tuple[Engine, MetaData],
) -> None:
    engine, metadata = portal
    erasure = _erase(_portal_target(engine, None), ANA, BO)
    after = _dump(engine, metadata)
    assert erasure.deleted == {"payment_card": 2, "visit": 3}
    assert erasure.masked["orders"] == 4
    assert [after["customer"][n][1] for n in (1, 2, 3)] == [None, None, CY]
    assert {r[2] for k, r in after["orders"].items() if k < 30} == {"erased"}
    assert after["orders"][30][2] == after["orders"][31][2] == "Kund 3"


def test_identities_that_match_nothing_change_nothing(
    portal: tuple[Engine, MetaData], kestrel_policy: Policy
) -> None:
    engine, metadata = portal
    before = _dump(engine, metadata)
    target = _portal_target(engine, kestrel_policy)
    with engine.begin() as conn:
        erasure = target.erase(
            conn,
            {"email": ["nobody@example.org"], "phone_number": ["+91 98200 00001"]},
            now=NOW,
            hash_key=KEY,
        )
        found = target.access(conn, {"email": [], "external_id": ["x"]})
    assert erasure.as_json() == {"masked": {}, "deleted": {}, "kept": []}
    assert all(rows == [] for rows in found.values())
    assert _dump(engine, metadata) == before


# -- shapes that need care -------------------------------------------------------------------------

EMPLOYEES = """
dataset:
  - fides_key: staff
    collections:
      - name: employee
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: name
            data_categories: [user.name]
          - name: manager_id
            data_categories: [system.operations]
            fides_meta:
              references: [{dataset: staff, field: employee.id, direction: to}]
"""


@pytest.fixture
def engine(company_database: tuple[str, str | None]) -> Iterator[Engine]:
    with fresh_engine(*company_database) as engine:
        yield engine


def test_a_chain_of_managers_is_followed_to_its_end(engine: Engine) -> None:
    """manager_id -> id, direction to: from an employee up to each manager in turn, never down
    to the people they manage, nor sideways to colleagues."""
    chain = [  # 5 -> 4 -> 3 -> 2 -> 1; 6 reports to 3; 7 to nobody
        {"id": 1, "email": "boss@example.org", "name": "Boss", "manager_id": None},
        *(
            {"id": n, "email": f"e{n}@example.org", "name": f"E{n}", "manager_id": n - 1}
            for n in range(2, 6)
        ),
        {"id": 6, "email": "six@example.org", "name": "Six", "manager_id": 3},
        {"id": 7, "email": "seven@example.org", "name": "Seven", "manager_id": None},
    ]
    columns = {"employee": [*_strings("email", "name"), Column("manager_id", Integer)]}
    metadata = _create_tables(engine, columns, {"employee": chain})
    [dataset] = read_datasets(EMPLOYEES, "staff.yaml")
    target = Target(dataset, engine)
    with engine.connect() as conn:
        found = target.access(conn, {"email": ["e5@example.org"]})
    assert [r["id"] for r in found["employee"]] == [1, 2, 3, 4, 5]
    _erase(target, "e5@example.org")
    after = _dump(engine, metadata)["employee"]
    assert [n for n, row in sorted(after.items()) if row[1] is None] == [1, 2, 3, 4, 5]
    assert after[6] == (6, "six@example.org", "Six", 3)
    assert after[7] == (7, "seven@example.org", "Seven", None)


NEWSLETTER = """
dataset:
  - fides_key: shop
    collections:
      - name: customer
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
            troth: {mask: fixed, value: gone}
          - name: name
            data_categories: [user.name]
      - name: subscription
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta:
              data_type: string
              references: [{dataset: shop, field: customer.email}]
          - name: topic
            data_categories: [user.behavior]
"""


def test_a_masked_join_key_read_both_ways_is_still_erased_whole(engine: Engine) -> None:
    """subscription.email and customer.email reach each other, and erasure masks both: no order
    of the two statements keeps the other reachable, so the rows are pinned by key first."""
    columns = {"customer": _strings("email", "name"), "subscription": _strings("email", "topic")}
    metadata = _create_tables(
        engine,
        columns,
        {
            "customer": [
                {"id": 1, "email": ANA, "name": "Ana"},
                {"id": 2, "email": BO, "name": "Bo"},
            ],
            "subscription": [
                {"id": 1, "email": ANA, "topic": "news"},
                {"id": 2, "email": ANA, "topic": "offers"},
                {"id": 3, "email": BO, "topic": "news"},
            ],
        },
    )
    [dataset] = read_datasets(NEWSLETTER, "shop.yaml")
    _erase(Target(dataset, engine), ANA)
    after = _dump(engine, metadata)
    assert after["customer"] == {1: (1, "gone", None), 2: (2, BO, "Bo")}
    assert after["subscription"] == {1: (1, None, None), 2: (2, None, None), 3: (3, BO, "news")}


HASHED_IDENTITY = """
dataset:
  - fides_key: crm
    collections:
      - name: contact
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
            troth: {mask: EMAIL_MASK}
          - name: name
            data_categories: [user.name]
            troth: {mask: fixed, value: erased}
          - name: note
            data_categories: [user.content.private]
            troth: {mask: NOTE_MASK}
"""


@pytest.mark.parametrize(("email_mask", "note_mask"), [("hash", "nullify"), ("nullify", "hash")])
def test_a_hashed_or_masked_identity_column_does_not_hide_the_row_from_its_other_fields(
    engine: Engine, email_mask: str, note_mask: str
) -> None:
    """The column the row is found by is itself masked (hashed, or emptied while another field
    is hashed); the row's other fields are masked all the same."""
    rows = [
        {"id": 1, "email": ANA, "name": "Ana", "note": "called"},
        {"id": 2, "email": BO, "name": "Bo", "note": "met"},
    ]
    columns = {"contact": _strings("email", "name", "note")}
    metadata = _create_tables(engine, columns, {"contact": rows})
    text = HASHED_IDENTITY.replace("EMAIL_MASK", email_mask).replace("NOTE_MASK", note_mask)
    [dataset] = read_datasets(text, "crm.yaml")
    erasure = _erase(Target(dataset, engine), ANA)
    assert _dump(engine, metadata)["contact"] == {
        1: (
            1,
            keyed_hash(KEY, ANA) if email_mask == "hash" else None,
            "erased",
            keyed_hash(KEY, "called") if note_mask == "hash" else None,
        ),
        2: (2, BO, "Bo", "met"),
    }
    assert erasure.masked == {"contact": 1}


INVOICES = """
dataset:
  - fides_key: billing
    collections:
      - name: invoice
        troth: {timestamp: issued_at}
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: issued_at
            data_categories: [user.behavior]
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: billing_name
            data_categories: [user.name]
            troth: {mask: fixed, value: erased, retention: financial_records}
"""


def test_a_hold_reads_its_clock_before_erasure_empties_the_clock(
    engine: Engine, kestrel_policy: Policy
) -> None:
    """The clock column is personal data too and is emptied by the same statement; whether the
    rule holds a field is decided on the clock as it was (MariaDB and MySQL assign left to
    right, so an emptied clock read afterwards would look like one not yet started)."""
    rows = [
        {"id": 1, "issued_at": datetime(2001, 1, 1), "email": ANA, "billing_name": "A"},
        {"id": 2, "issued_at": datetime(2025, 1, 1), "email": ANA, "billing_name": "A"},
        {"id": 3, "issued_at": None, "email": ANA, "billing_name": "A"},
    ]
    columns = {"invoice": [Column("issued_at", DateTime), *_strings("email", "billing_name")]}
    metadata = _create_tables(engine, columns, {"invoice": rows})
    [dataset] = read_datasets(INVOICES, "billing.yaml")
    erasure = _erase(Target(dataset, engine, policy=kestrel_policy), ANA)
    assert _dump(engine, metadata)["invoice"] == {
        1: (1, None, None, "erased"),  # 2001: the seven years have run out
        2: (2, None, None, "A"),
        3: (3, None, None, "A"),  # the clock has not started
    }
    assert [(k.field, k.rows) for k in erasure.kept] == [("billing_name", 2)]


def test_personal_data_no_identity_reaches_stops_requests_but_not_a_binding(
    tmp_path: Any,
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'logs.db'}")
    metadata = MetaData()
    Table(
        "log",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("ip", String(100)),
        Column("at", DateTime),
    )
    metadata.create_all(engine)
    [dataset] = read_datasets(
        "dataset:\n  - fides_key: logs\n    collections:\n      - name: log\n"
        "        fields:\n          - name: id\n            fides_meta: {primary_key: true}\n"
        "          - name: ip\n            data_categories: [user.device.ip_address]\n"
        "          - name: at\n",
        "logs.yaml",
    )
    target = Target(dataset, engine)  # a retention sweep needs no identity
    for request in (
        lambda conn: target.access(conn, {"email": [ANA]}),
        lambda conn: target.plan(conn, {"email": [ANA]}, now=NOW),
        lambda conn: target.erase(conn, {"email": [ANA]}, now=NOW, hash_key=KEY),
    ):
        with engine.begin() as conn, pytest.raises(DatasetError, match="no identity reaches"):
            request(conn)
    engine.dispose()
