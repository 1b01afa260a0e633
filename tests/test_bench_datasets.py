"""bench/datasets.py compares like with like: its baselines leave the database exactly as troth's
erasure does, its hand-written access reads exactly what troth's does, and its reload puts
customers back exactly as they were loaded. At a small scale, on PostgreSQL; no timing here."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from pg_support import postgres_schema
from sqlalchemy import Engine, text
from support import ROOT

from troth.store import make_engine

pytestmark = pytest.mark.postgres

CUSTOMERS = 200
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
KEY = b"k" * 32


def _bench(name: str) -> ModuleType:
    """A module of bench/, imported as ``bench/run.py`` imports it: by name, bench/ first on the
    path (the benches import each other, and bench/pg.py, that way)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


bench = _bench("datasets")  # the cases: troth's side and the baselines
loading = _bench("datasets_load")  # the database they run in


@pytest.fixture
def engines(postgres_url: str) -> Iterator[dict[str, Engine]]:
    """Three copies of the bench's database, each in its own schema: one per way of erasing."""
    with ExitStack() as stack:
        found = {}
        for side in ("troth", "set-based", "per-row"):
            url = stack.enter_context(postgres_schema(postgres_url, "troth_bench_test"))
            engine = make_engine(url)
            stack.callback(engine.dispose)
            with engine.begin() as conn:
                loading.load(conn, CUSTOMERS, NOW)
            found[side] = engine
        yield found


def _contents(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            for table in loading.TABLES
        }


def test_the_baselines_erase_exactly_what_troth_erases(engines: dict[str, Engine]) -> None:
    big = CUSTOMERS + 1
    ids = [big, *range(3, CUSTOMERS, 7)]
    emails = [loading.email_of(c) for c in ids]
    before = _contents(engines["troth"])

    target = bench.make_target(engines["troth"])
    with engines["troth"].connect() as conn:  # a request records its plan first
        planned = target.plan(conn, {"email": emails}, now=NOW)
    with engines["troth"].begin() as conn:
        erasure = bench.erase_with_troth(target, conn, emails, NOW, KEY)
    with engines["set-based"].begin() as conn:
        bench.erase_set_based(conn, emails, NOW, KEY)
    with engines["per-row"].begin() as conn:
        bench.erase_per_row(conn, emails, NOW, KEY)

    after = _contents(engines["troth"])
    assert after != before
    # The comparison covers both sides of the financial hold and every kind of mask.
    assert [(k.collection, k.field) for k in planned.kept] == [("orders", "billing_name")]
    assert erasure.masked["orders"] == 2 * len(ids) > planned.kept[0].rows > 0
    assert (planned.masked, planned.deleted) == (erasure.masked, erasure.deleted)
    assert erasure.masked["login"] == loading.BIG_LOGINS + 5 * (len(ids) - 1)
    assert erasure.deleted == {"payment_card": len(ids), "visit": 3 * len(ids)}
    assert _contents(engines["set-based"]) == after
    assert _contents(engines["per-row"]) == after


def test_access_by_hand_reads_what_troth_reads(engines: dict[str, Engine]) -> None:
    engine = engines["troth"]
    target = bench.make_target(engine)
    with engine.connect() as conn:
        for cid in (1, 57, CUSTOMERS + 1):
            email = loading.email_of(cid)
            found = target.access(conn, {"email": [email]})
            assert found == bench.access_by_hand(conn, email)
            assert len(found["login"]) == (loading.BIG_LOGINS if cid > CUSTOMERS else 5)


def test_reload_puts_erased_customers_back_as_loaded(engines: dict[str, Engine]) -> None:
    engine = engines["set-based"]
    big = CUSTOMERS + 1
    ids = [big, 10, 11, 150]
    before = _contents(engine)
    with engine.begin() as conn:
        bench.erase_set_based(conn, [loading.email_of(c) for c in ids], NOW, KEY)
    assert _contents(engine) != before
    with engine.begin() as conn:
        loading.reload(conn, ids, big, NOW)
    assert _contents(engine) == before
