"""The company database the datasets bench measures in: Fides' sample shape, and its data.

The shape is ``examples/kestrel/datasets/portal.yaml``'s: customer, address, orders, order_item,
payment_card, login and visit, with an index on every foreign key column and on visit.email. It
is loaded on PostgreSQL with set-based INSERT ... SELECT FROM generate_series: per customer 1
address, 2 orders of 2 items each, 1 card, 5 logins and 3 visits, orders spread over the last ten
years (so the 7-year financial hold keeps some billing names and not others), plus one customer
with 5,006 logins. Every value is a function of the customer's id, so any customers can be put
back exactly as they were loaded (:func:`reload`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, text

BIG_LOGINS = 5006  # the big customer's logins

TABLES = ("customer", "address", "orders", "order_item", "payment_card", "login", "visit")
_DDL = [
    """CREATE TABLE customer (id bigint PRIMARY KEY, email text UNIQUE, name text, phone text,
        created_at timestamptz NOT NULL)""",
    """CREATE TABLE address (id bigint PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customer (id), street text, city text,
        postal_code text)""",
    """CREATE TABLE orders (id bigint PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customer (id), billing_name text,
        total_cents integer NOT NULL, created_at timestamptz NOT NULL)""",
    """CREATE TABLE order_item (id bigint PRIMARY KEY,
        order_id bigint NOT NULL REFERENCES orders (id), gift_message text)""",
    """CREATE TABLE payment_card (id bigint PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customer (id), holder text, last4 text)""",
    """CREATE TABLE login (id bigint PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customer (id), ip_address text, at timestamptz)""",
    "CREATE TABLE visit (id bigint PRIMARY KEY, email text, page text NOT NULL)",
]
_INDEXES = [
    "CREATE INDEX address_customer_id ON address (customer_id)",
    "CREATE INDEX orders_customer_id ON orders (customer_id)",
    "CREATE INDEX order_item_order_id ON order_item (order_id)",
    "CREATE INDEX payment_card_customer_id ON payment_card (customer_id)",
    "CREATE INDEX login_customer_id ON login (customer_id)",
    "CREATE INDEX visit_email ON visit (email)",
]

# Rows for the customers of {cids} (a FROM item giving column cid). Ids are functions of cid:
# customer n has address and card n, orders 2n-1 and 2n, items 4n-3..4n, logins 5n-4..5n and
# visits 3n-2..3n. The big customer is the last one, so its extra logins take ids no one else has.
# Order ages skip the days around seven years, so that no order sits on the hold's boundary
# (where calendar arithmetic in SQL and in Python could round a leap day differently).
_INSERTS = [
    """INSERT INTO customer (id, email, name, phone, created_at)
       SELECT cid, 'customer' || cid || '@example.com', 'Customer ' || cid,
              '+1555' || lpad(cid::text, 7, '0'),
              CAST(:now AS timestamptz) - make_interval(days => (cid % 3650)::int)
       FROM {cids}""",
    """INSERT INTO address (id, customer_id, street, city, postal_code)
       SELECT cid, cid, cid || ' Main Street', 'City ' || (cid % 500),
              lpad((cid % 100000)::text, 5, '0')
       FROM {cids}""",
    """INSERT INTO orders (id, customer_id, billing_name, total_cents, created_at)
       SELECT 2 * cid - 1 + k, cid, 'Customer ' || cid, ((cid * 37 + k * 101) % 100000)::int,
              CAST(:now AS timestamptz) - make_interval(days => CASE
                  WHEN age BETWEEN 2540 AND 2575 THEN age + 40 ELSE age END)
              - make_interval(mins => ((cid * 11 + k) % 1440)::int)
       FROM {cids}, generate_series(0, 1) AS k,
            LATERAL (SELECT ((cid * 7919 + k * 3571) % 3650)::int AS age) AS a""",
    """INSERT INTO order_item (id, order_id, gift_message)
       SELECT 4 * cid - 3 + 2 * k + j, 2 * cid - 1 + k,
              'Happy birthday from customer ' || cid || ', item ' || j
       FROM {cids}, generate_series(0, 1) AS k, generate_series(0, 1) AS j""",
    """INSERT INTO payment_card (id, customer_id, holder, last4)
       SELECT cid, cid, 'Customer ' || cid, lpad((cid % 10000)::text, 4, '0')
       FROM {cids}""",
    """INSERT INTO login (id, customer_id, ip_address, at)
       SELECT 5 * cid - 4 + k, cid,
              '10.' || ((cid + k) / 65536 % 256) || '.' || ((cid + k) / 256 % 256) || '.'
                    || ((cid + k) % 256),
              CAST(:now AS timestamptz) - make_interval(mins => ((cid * 13 + k * 7) % 500000)::int)
       FROM {cids}, LATERAL generate_series(0, CASE WHEN cid = :big THEN :big_logins - 1 ELSE 4
            END) AS k""",
    """INSERT INTO visit (id, email, page)
       SELECT 3 * cid - 2 + k, 'customer' || cid || '@example.com',
              (ARRAY['/pricing', '/blog/launch', '/contact'])[k + 1]
       FROM {cids}, generate_series(0, 2) AS k""",
]
_DELETES = [
    "DELETE FROM order_item WHERE order_id IN"
    " (SELECT id FROM orders WHERE customer_id = ANY(:ids))",
    "DELETE FROM orders WHERE customer_id = ANY(:ids)",
    "DELETE FROM address WHERE customer_id = ANY(:ids)",
    "DELETE FROM payment_card WHERE customer_id = ANY(:ids)",
    "DELETE FROM login WHERE customer_id = ANY(:ids)",
    "DELETE FROM visit WHERE id IN (SELECT 3 * cid - 2 + k FROM unnest(CAST(:ids AS bigint[]))"
    " AS g(cid), generate_series(0, 2) AS k)",
    "DELETE FROM customer WHERE id = ANY(:ids)",
]


def email_of(cid: int) -> str:
    """Customer ``cid``'s email address, as loaded."""
    return f"customer{cid}@example.com"


def load(conn: Connection, customers: int, now: datetime) -> int:
    """Create the tables in the connection's schema and load ``customers`` ordinary customers and
    one big one (with 5,006 logins); return the big customer's id."""
    big = customers + 1
    for ddl in _DDL:
        conn.execute(text(ddl))
    params = {"now": now, "big": big, "big_logins": BIG_LOGINS, "n": big}
    for insert in _INSERTS:
        conn.execute(text(insert.format(cids="generate_series(1, :n) AS g(cid)")), params)
    for index in _INDEXES:
        conn.execute(text(index))
    return big


def reload(conn: Connection, ids: Sequence[int], big: int, now: datetime) -> None:
    """Put the customers ``ids`` and everything of theirs back exactly as :func:`load` made them."""
    params = {"ids": list(ids), "now": now, "big": big, "big_logins": BIG_LOGINS}
    for delete in _DELETES:
        conn.execute(text(delete), params)
    for insert in _INSERTS:
        conn.execute(text(insert.format(cids="unnest(CAST(:ids AS bigint[])) AS g(cid)")), params)
