"""A company database for rights requests that reach into it (troth.datasets)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rights_support import REQUESTER
from sqlalchemy import Engine, create_engine, text

PORTAL = (
    Path(__file__).resolve().parent.parent / "examples" / "kestrel" / "datasets" / "portal.yaml"
)
OTHER = "someone.else@example.in"

SCHEMA = """
CREATE TABLE customer (id INTEGER PRIMARY KEY, email VARCHAR(200), name VARCHAR(200),
  phone VARCHAR(40), created_at DATETIME);
CREATE TABLE address (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id),
  street VARCHAR(200), city VARCHAR(100), postal_code VARCHAR(20));
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id),
  billing_name VARCHAR(200), total_cents INTEGER, created_at DATETIME);
CREATE TABLE order_item (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id),
  gift_message VARCHAR(200));
CREATE TABLE payment_card (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id),
  holder VARCHAR(200), last4 VARCHAR(4));
CREATE TABLE login (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customer(id),
  ip_address VARCHAR(100), at DATETIME);
CREATE TABLE visit (id INTEGER PRIMARY KEY, email VARCHAR(200), page VARCHAR(200));
"""


def portal_company(path: Path, *, logins: int = 3) -> Engine:
    """A SQLite database at ``path`` shaped like examples/kestrel/datasets/portal.yaml, with two
    customers: the requester (id 1) and someone else (id 2), ``logins`` logins each."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(text(statement))
        for n, email in ((1, REQUESTER), (2, OTHER)):
            conn.execute(
                text("INSERT INTO customer VALUES (:n, :e, :name, '+91 98200 00000', :at)"),
                {"n": n, "e": email, "name": f"Customer {n}", "at": datetime(2024, 1, 1)},
            )
            conn.execute(
                text("INSERT INTO address VALUES (:n, :n, 'MG Road', 'Pune', '411001')"), {"n": n}
            )
            conn.execute(
                text("INSERT INTO orders VALUES (:id, :n, :name, 500, :at)"),
                [
                    {"id": 10 * n, "n": n, "name": f"Customer {n}", "at": datetime(2016, 5, 1)},
                    {"id": 10 * n + 1, "n": n, "name": f"Customer {n}", "at": datetime(2025, 5, 1)},
                ],
            )
            conn.execute(
                text("INSERT INTO order_item VALUES (:id, :o, 'Happy birthday')"),
                {"id": n, "o": 10 * n},
            )
            conn.execute(text("INSERT INTO payment_card VALUES (:n, :n, 'C', '4242')"), {"n": n})
            conn.execute(
                text("INSERT INTO login VALUES (:id, :n, '203.0.113.7', :at)"),
                [
                    {"id": 1_000_000 * n + i, "n": n, "at": datetime(2026, 10, 1)}
                    for i in range(logins)
                ],
            )
            conn.execute(
                text("INSERT INTO visit VALUES (:n, :e, '/pricing')"), {"n": n, "e": email}
            )
    return engine
