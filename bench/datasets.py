"""Rights requests carried out in the company's own database, against hand-written SQL doing the
same work in the same run.

The database is Fides' sample shape, as ``examples/kestrel/datasets/portal.yaml`` declares it,
built and loaded by ``bench/datasets_load.py``: per customer 1 address, 2 orders of 2 items each,
1 card, 5 logins and 3 visits, plus one customer with 5,006 logins. Every value is a function of
the customer's id, so any customers can be put back exactly as they were loaded
(:func:`datasets_load.reload`).

Cases, each against a baseline measured in the same run, taking turns:

1. Erasing the customer with 5,006 logins in one transaction, commit included, against a per-row
   erasure as Fides does it: select the reachable rows, then one UPDATE (or DELETE) statement per
   row, committed at the end. The customer is reloaded, untimed, before every run of either side.
2. Access for one ordinary customer (5 logins), against hand-written SELECTs of the same rows and
   columns, one per table joined to customer by email.
3. Erasing a batch of customers (10,000 at full scale) named by email, in one transaction, commit
   included, against hand-written set-based SQL: one UPDATE or DELETE per table, the customers
   found by a subquery on email. Each run of either side takes its own disjoint random slice of
   customers, so no state is restored between runs.

Run with ``make bench`` or alone: ``.venv/bin/python bench/datasets.py``. The server comes from
TROTH_BENCH_POSTGRES_URL; the bench creates (and afterwards drops) a database ``troth_bench``
there, or, without the right to create one, a schema ``troth_bench`` (``bench/pg.py``).
TROTH_BENCH_CUSTOMERS sets the scale (default 100,000).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pg  # bench/pg.py, beside this file
from datasets_load import BIG_LOGINS, TABLES, email_of, load, reload  # bench/datasets_load.py
from sqlalchemy import Connection, Engine, text

from troth.datasets.hashing import hmac_pads, keyed_hash
from troth.datasets.model import load_datasets
from troth.datasets.run import Erasure, Target
from troth.declaration import load_policy

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "examples" / "kestrel" / "datasets" / "portal.yaml"
POLICY = ROOT / "examples" / "kestrel" / "privacy.yaml"
BENCH_NAME = "troth_bench"
HASH_KEY = b"k" * 32
HOLD_YEARS = 7  # financial_records in examples/kestrel/privacy.yaml: P7Y
ERASE_ROUNDS = 7
ACCESS_CALLS = 200
BATCH = 10_000
BATCH_ROUNDS = 3


# The baselines ------------------------------------------------------------------------------


def held(created_at: datetime, now: datetime) -> bool:
    """Whether the 7-year financial hold still keeps an order's billing name."""
    return created_at > _cutoff(now)


def _cutoff(now: datetime) -> datetime:
    try:
        return now.replace(year=now.year - HOLD_YEARS)
    except ValueError:  # 29 February
        return now.replace(year=now.year - HOLD_YEARS, day=28)


def erase_per_row(conn: Connection, emails: Sequence[str], now: datetime, key: bytes) -> None:
    """Erasure as Fides does it: read the reachable rows collection by collection, then write
    each row with its own UPDATE (or DELETE) statement."""
    emails = list(emails)
    cids = (
        conn.execute(text("SELECT id FROM customer WHERE email = ANY(:e)"), {"e": emails})
        .scalars()
        .all()
    )
    cids = list(cids)

    def rows(sql: str, ids: Sequence[Any]) -> list[Any]:
        return list(conn.execute(text(sql), {"ids": list(ids)}).all())

    addresses = rows("SELECT id FROM address WHERE customer_id = ANY(:ids)", cids)
    orders = rows("SELECT id, created_at FROM orders WHERE customer_id = ANY(:ids)", cids)
    items = rows("SELECT id FROM order_item WHERE order_id = ANY(:ids)", [o.id for o in orders])
    cards = rows("SELECT id FROM payment_card WHERE customer_id = ANY(:ids)", cids)
    logins = rows("SELECT id, ip_address FROM login WHERE customer_id = ANY(:ids)", cids)
    visits = rows("SELECT id FROM visit WHERE email = ANY(:ids)", emails)

    def each(sql: str, params: list[dict[str, Any]]) -> None:
        statement = text(sql)
        for p in params:  # one statement per row, on purpose: that is the baseline
            conn.execute(statement, p)

    each(
        "UPDATE address SET street = NULL, city = NULL, postal_code = NULL WHERE id = :id",
        [{"id": r.id} for r in addresses],
    )
    each(
        "UPDATE orders SET billing_name = 'erased' WHERE id = :id",
        [{"id": r.id} for r in orders if not held(r.created_at, now)],
    )
    each("UPDATE order_item SET gift_message = NULL WHERE id = :id", [{"id": r.id} for r in items])
    each("DELETE FROM payment_card WHERE id = :id", [{"id": r.id} for r in cards])
    each(
        "UPDATE login SET ip_address = :ip, at = NULL WHERE id = :id",
        [
            {"id": r.id, "ip": None if r.ip_address is None else keyed_hash(key, r.ip_address)}
            for r in logins
        ],
    )
    each("DELETE FROM visit WHERE id = :id", [{"id": r.id} for r in visits])
    each(
        "UPDATE customer SET email = NULL, name = NULL, phone = NULL WHERE id = :id",
        [{"id": c} for c in cids],
    )


_OF_CUSTOMERS = "customer_id IN (SELECT id FROM customer WHERE email = ANY(:e))"


def erase_set_based(conn: Connection, emails: Sequence[str], now: datetime, key: bytes) -> None:
    """The same erasure written by hand as set-based SQL: one statement per table, the login
    hashes computed by PostgreSQL in the same UPDATE."""
    p = {"e": list(emails), "cutoff": _cutoff(now)}
    conn.execute(
        text(
            "UPDATE address SET street = NULL, city = NULL, postal_code = NULL"
            f" WHERE {_OF_CUSTOMERS}"
        ),
        p,
    )
    conn.execute(
        text(
            "UPDATE order_item SET gift_message = NULL WHERE order_id IN (SELECT o.id FROM orders o"
            " JOIN customer c ON c.id = o.customer_id WHERE c.email = ANY(:e))"
        ),
        p,
    )
    conn.execute(
        text(
            "UPDATE orders SET billing_name = CASE WHEN created_at > :cutoff THEN billing_name"
            f" ELSE 'erased' END WHERE {_OF_CUSTOMERS}"
        ),
        p,
    )
    conn.execute(text(f"DELETE FROM payment_card WHERE {_OF_CUSTOMERS}"), p)
    # HMAC-SHA256 from PostgreSQL's own sha256 (RFC 2104 with the padded keys as parameters),
    # as troth's erasure computes it on PostgreSQL: one statement, no row leaves the server.
    inner, outer = hmac_pads(key)
    conn.execute(
        text(
            "UPDATE login SET ip_address = CASE WHEN ip_address IS NULL"
            " OR ip_address ~ '^h:[0-9a-f]{64}$' THEN ip_address ELSE 'h:' || encode(sha256("
            ":outer || sha256(:inner || convert_to(ip_address, 'UTF8'))), 'hex') END, at = NULL"
            f" WHERE {_OF_CUSTOMERS}"
        ),
        p | {"inner": inner, "outer": outer},
    )
    conn.execute(text("DELETE FROM visit WHERE email = ANY(:e)"), p)
    conn.execute(
        text("UPDATE customer SET email = NULL, name = NULL, phone = NULL WHERE email = ANY(:e)"), p
    )


_ACCESS = {
    "customer": "SELECT id, email, name, phone, created_at FROM customer WHERE email = :e"
    " ORDER BY id",
    "address": "SELECT a.id, a.customer_id, a.street, a.city, a.postal_code FROM address a"
    " JOIN customer c ON c.id = a.customer_id WHERE c.email = :e ORDER BY a.id",
    "orders": "SELECT o.id, o.customer_id, o.billing_name, o.total_cents, o.created_at"
    " FROM orders o JOIN customer c ON c.id = o.customer_id WHERE c.email = :e ORDER BY o.id",
    "order_item": "SELECT i.id, i.order_id, i.gift_message FROM order_item i"
    " JOIN orders o ON o.id = i.order_id JOIN customer c ON c.id = o.customer_id"
    " WHERE c.email = :e ORDER BY i.id",
    "payment_card": "SELECT p.id, p.customer_id, p.holder, p.last4 FROM payment_card p"
    " JOIN customer c ON c.id = p.customer_id WHERE c.email = :e ORDER BY p.id",
    "login": "SELECT l.id, l.customer_id, l.ip_address, l.at FROM login l"
    " JOIN customer c ON c.id = l.customer_id WHERE c.email = :e ORDER BY l.id",
    "visit": "SELECT id, email, page FROM visit WHERE email = :e ORDER BY id",
}
_ACCESS_STATEMENTS = {name: text(sql) for name, sql in _ACCESS.items()}


def access_by_hand(conn: Connection, email: str) -> dict[str, list[dict[str, Any]]]:
    """One customer's rows, every declared column, by hand: one SELECT per table."""
    return {
        name: [dict(row) for row in conn.execute(statement, {"e": email}).mappings()]
        for name, statement in _ACCESS_STATEMENTS.items()
    }


# troth's side -------------------------------------------------------------------------------


def make_target(engine: Engine) -> Target:
    """troth's Target for the portal dataset under Kestrel's policy."""
    (dataset,) = load_datasets(DATASET)
    return Target(dataset, engine, policy=load_policy(POLICY))


def erase_with_troth(
    target: Target, conn: Connection, emails: Sequence[str], now: datetime, key: bytes
) -> Erasure:
    # As a rights request runs it: the count of what is kept was recorded by its plan step.
    return target.erase(conn, {"email": list(emails)}, now=now, hash_key=key, report=False)


# Measuring ----------------------------------------------------------------------------------


def _erased(conn: Connection, ids: Sequence[int]) -> None:
    """Check, untimed, that an erasure did its work (a bench of a no-op proves nothing)."""
    left = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM customer WHERE id = ANY(:ids) AND email IS NOT NULL)"
            " + (SELECT count(*) FROM payment_card WHERE customer_id = ANY(:ids))"
            " + (SELECT count(*) FROM login WHERE customer_id = ANY(:ids) AND at IS NOT NULL)"
        ),
        {"ids": list(ids)},
    ).scalar_one()
    assert left == 0, f"{left} rows were left unerased"


def big_erasure(
    engine: Engine, target: Target, big: int, now: datetime
) -> tuple[list[float], list[float]]:
    """Seconds per erasure of the big customer: troth's and the per-row baseline's, one warm-up
    round of each first (untimed). The customer is reloaded before every run."""
    emails = [email_of(big)]
    sides: dict[str, Callable[[Connection], object]] = {
        "troth": lambda conn: erase_with_troth(target, conn, emails, now, HASH_KEY),
        "per-row": lambda conn: erase_per_row(conn, emails, now, HASH_KEY),
    }
    spent: dict[str, list[float]] = {"troth": [], "per-row": []}
    for n in range(ERASE_ROUNDS + 1):
        for side in pg.in_turn(["troth", "per-row"], n):
            with engine.begin() as conn:
                reload(conn, [big], big, now)
            began = time.perf_counter()
            with engine.begin() as conn:
                sides[side](conn)
            elapsed = time.perf_counter() - began
            with engine.connect() as conn:
                _erased(conn, [big])
            if n:
                spent[side].append(elapsed)
    with engine.begin() as conn:
        reload(conn, [big], big, now)
    return spent["troth"], spent["per-row"]


def access(engine: Engine, target: Target, cids: Sequence[int]) -> tuple[list[float], list[float]]:
    """Seconds per access call, troth's and by hand, for the same customers, taking turns."""
    spent: dict[str, list[float]] = {"troth": [], "by hand": []}
    with engine.connect() as conn:
        for n, cid in enumerate(cids):
            email = email_of(cid)
            for side in pg.in_turn(["troth", "by hand"], n):
                began = time.perf_counter()
                with conn.begin():
                    if side == "troth":
                        target.access(conn, {"email": [email]})
                    else:
                        access_by_hand(conn, email)
                spent[side].append(time.perf_counter() - began)
    return spent["troth"], spent["by hand"]


def batch_erasure(
    engine: Engine, target: Target, slices: Sequence[Sequence[int]], now: datetime
) -> tuple[list[float], list[float]]:
    """Seconds per batch erasure, troth's and hand-written set-based SQL's, each run on its own
    slice of customers (``2 * BATCH_ROUNDS`` slices), taking turns."""
    spent: dict[str, list[float]] = {"troth": [], "set-based": []}
    pieces = iter(slices)
    for n in range(BATCH_ROUNDS):
        for side in pg.in_turn(["troth", "set-based"], n):
            ids = next(pieces)
            emails = [email_of(c) for c in ids]
            began = time.perf_counter()
            with engine.begin() as conn:
                if side == "troth":
                    erase_with_troth(target, conn, emails, now, HASH_KEY)
                else:
                    erase_set_based(conn, emails, now, HASH_KEY)
            spent[side].append(time.perf_counter() - began)
            with engine.connect() as conn:
                _erased(conn, ids)
    return spent["troth"], spent["set-based"]


def run(url: str, customers: int) -> list[pg.Result]:
    """Load the database, measure the three cases; rows of (case, troth, baseline, ratio, aim)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with pg.bench_database(url, BENCH_NAME) as engine:
        began = time.perf_counter()
        with engine.begin() as conn:
            big = load(conn, customers, now)
        pg.vacuum_analyze(engine, TABLES)
        loaded = time.perf_counter() - began
        version = pg.server_version(engine)
        print(
            f"datasets: PostgreSQL {version}, {customers:,} customers and one with "
            f"{BIG_LOGINS:,} logins, loaded and analysed in {loaded:.1f} s"
        )
        began = time.perf_counter()
        target = make_target(engine)
        reflected = time.perf_counter() - began

        order = list(range(1, customers + 1))
        random.Random(20261126).shuffle(order)
        batch = min(BATCH, customers // (2 * BATCH_ROUNDS + 1))
        sample = order[: min(ACCESS_CALLS, customers)]
        slices = [order[(i + 1) * batch : (i + 2) * batch] for i in range(2 * BATCH_ROUNDS)]

        troth_access, hand_access = access(engine, target, sample)
        troth_big, per_row_big = big_erasure(engine, target, big, now)
        troth_batch, hand_batch = batch_erasure(engine, target, slices, now)

    rows = []
    t_med, b_med = statistics.median(troth_big), statistics.median(per_row_big)
    rows.append(
        (
            f"erase 1 customer with {BIG_LOGINS:,} logins, commit included "
            f"(median / best of {ERASE_ROUNDS})",
            f"{pg.ms(t_med)} / {pg.ms(min(troth_big))}",
            f"per-row: {pg.ms(b_med)} / {pg.ms(min(per_row_big))}",
            f"{b_med / t_med:.1f}x faster",
            f"< 300 ms: {'met' if t_med < 0.3 else 'NOT met'}",
        )
    )
    t50, b50 = statistics.median(troth_access), statistics.median(hand_access)
    rows.append(
        (
            f"access 1 customer (p50 / p95 of {len(sample)})",
            f"{pg.ms(t50)} / {pg.ms(pg.percentile(troth_access, 0.95))}",
            f"by hand: {pg.ms(b50)} / {pg.ms(pg.percentile(hand_access, 0.95))}",
            f"{t50 / b50:.2f}x time",
            f"p50 < 50 ms: {'met' if t50 < 0.05 else 'NOT met'}",
        )
    )
    t_rate = pg.rate(batch, troth_batch)
    b_rate = pg.rate(batch, hand_batch)
    rows.append(
        (
            f"erase {batch:,} customers in one transaction (median of {BATCH_ROUNDS})",
            f"{t_rate:,.0f} customers/s",
            f"set-based SQL: {b_rate:,.0f}/s",
            f"{t_rate / b_rate:.2f}x rate",
            f">= 0.5x: {'met' if t_rate / b_rate >= 0.5 else 'NOT met'}",
        )
    )
    print(f"datasets: Target reflected the tables in {pg.ms(reflected)} (once, untimed below)")
    for name, runs in [
        ("erase 1 big, troth", troth_big),
        ("erase 1 big, per-row", per_row_big),
        (f"erase {batch:,}, troth", troth_batch),
        (f"erase {batch:,}, set-based", hand_batch),
    ]:
        print(f"datasets: {name}, each run (s): {pg.each_run(runs, 3)}")
    return rows


def main() -> int:
    customers = int(os.environ.get("TROTH_BENCH_CUSTOMERS", "100000"))
    url = pg.server_url("datasets")
    if url is None:
        return 0
    pg.print_table(run(url, customers), (66, 24, 36, 13))
    return 0


if __name__ == "__main__":
    sys.exit(main())
