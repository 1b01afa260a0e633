"""bench/retention.py compares like with like: troth's sweep and both raw baselines delete exactly
the expired rows, and its restore puts the table back exactly as it was loaded. At a small
scale, on PostgreSQL; no timing here."""

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

from troth.datasets import Target, read_datasets
from troth.declaration import load_policy
from troth.store import make_engine

pytestmark = pytest.mark.postgres

ROWS = 3_000
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _bench(name: str) -> ModuleType:
    """A module of bench/, imported as ``bench/run.py`` imports it: by name, bench/ first on the
    path (the benches import bench/pg.py that way)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


bench = _bench("retention")
SIDES = ("troth", "raw", "subquery", "fresh")


@pytest.fixture
def engines(postgres_url: str) -> Iterator[dict[str, Engine]]:
    """One copy of the bench's table per side, each in a schema of its own."""
    with ExitStack() as stack:
        found = {}
        for side in SIDES:
            url = stack.enter_context(postgres_schema(postgres_url, "troth_bench_test"))
            engine = make_engine(url)
            stack.callback(engine.dispose)
            bench.load(engine, ROWS, NOW)
            found[side] = engine
        yield found


def _contents(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM event ORDER BY id"))]


def test_every_side_deletes_exactly_the_expired_rows(engines: dict[str, Engine]) -> None:
    policy = load_policy(bench.POLICY)
    (dataset,) = read_datasets(bench.DATASET, "events.yaml")
    rows, expired = bench.counts(engines["fresh"], NOW)
    assert (rows, expired) == (ROWS, ROWS * 3 // 10)
    target = Target(dataset, engines["troth"], policy=policy)
    assert bench.troth_sweep(target, policy, NOW, 100) == expired
    assert bench.raw_delete(engines["raw"], NOW, 100) == expired
    assert bench.raw_delete_subquery(engines["subquery"], NOW, 100) == expired
    after = _contents(engines["troth"])
    assert len(after) == ROWS - expired
    assert _contents(engines["raw"]) == after
    assert _contents(engines["subquery"]) == after
    assert bench.counts(engines["troth"], NOW) == (ROWS - expired, 0)


def test_restore_puts_back_exactly_what_was_loaded(engines: dict[str, Engine]) -> None:
    bench.raw_delete(engines["raw"], NOW, 250)
    bench.restore(engines["raw"], ROWS, NOW)
    assert _contents(engines["raw"]) == _contents(engines["fresh"])


def test_the_lock_clock_times_committed_transactions_only(engines: dict[str, Engine]) -> None:
    engine = engines["raw"]
    clock = bench.LockClock(engine)
    with engine.connect() as conn:  # rolled back: not a batch
        conn.execute(text("SELECT 1"))
    assert clock.longest == 0
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    assert clock.longest > 0
