"""A retention sweep over one large table, against a raw batched DELETE doing the same work in
the same run.

One table ``event`` (id, ip, page, at) of TROTH_BENCH_RETENTION_ROWS rows (default 10,000,000),
declared as a dataset whose ``ip`` is deleted with its row 90 days after ``at``
(``visitor_logs`` in examples/kestrel/privacy.yaml). 30% of the rows have expired, spread evenly
over the ids (a row has expired when ``id * 7919 % 10 < 3``). Every value is a function of the
id, so the deleted rows are put back exactly (:func:`restore`), untimed, between the two sides.

Both sides delete the expired rows in batches of BATCH rows, each batch its own transaction:

- troth: :func:`troth.datasets.sweep.sweep_dataset` with a progress callback, as ``troth
  retention run`` calls it (so the count behind the progress bar is timed too);
- two baselines, the same keyset walk a careful hand-written job does: ``SELECT id ... WHERE
  at < cutoff AND id > last ORDER BY id LIMIT n``, then ``DELETE ... WHERE id = ANY(ids)``,
  commit (*raw*); and ``DELETE ... WHERE id IN (SELECT id ... LIMIT n) RETURNING id``, commit
  (*subquery*: one statement per batch). troth's ratio is taken against the faster of the two.

Measured: rows deleted per second (aim: troth at least 0.7 of the baseline) and the longest
single batch transaction, from its BEGIN to the end of its COMMIT, on each side (aim: under 1 s),
since a batch's row locks are held until its commit.

Run with ``make bench`` or alone: ``.venv/bin/python bench/retention.py``. The server comes from
TROTH_BENCH_POSTGRES_URL; the bench creates (and afterwards drops) a database
``troth_bench_retention`` there, or, without the right to create one, a schema of that name
(``bench/pg.py``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pg  # bench/pg.py, beside this file
from sqlalchemy import Connection, Engine, event, text

from troth.datasets import Target, read_datasets
from troth.datasets.sweep import sweep_dataset
from troth.declaration import Policy, load_policy

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "kestrel" / "privacy.yaml"
BENCH_NAME = "troth_bench_retention"
BATCH = 1000
ROUNDS = 2  # each side runs this many times, taking turns
HASH_KEY = b"k" * 32
PERIOD_DAYS = 90  # visitor_logs: P90D

DATASET = """
dataset:
  - fides_key: events
    collections:
      - name: event
        troth: {timestamp: at}
        fields:
          - name: id
            fides_meta: {primary_key: true, data_type: integer}
          - name: ip
            data_categories: [user.device.ip_address]
            troth: {mask: delete_row, retention: visitor_logs}
          - name: page
            data_categories: [user.behavior.browsing_history]
            troth: {retention: visitor_logs}
          - name: at
            data_categories: [system.operations]
"""

_EXPIRED = "(id * 7919) % 10 < 3"
# Expired rows are 91 to 1,000 days old, the others 0 to 88 days: none sits on the cutoff.
_ROWS = f"""
    SELECT id,
           '10.' || (id / 65536 % 256) || '.' || (id / 256 % 256) || '.' || (id % 256),
           '/page/' || (id % 1000),
           CAST(:now AS timestamptz) - make_interval(
               days => (CASE WHEN {_EXPIRED} THEN 91 + (id % 910) ELSE id % 89 END)::int,
               secs => (id % 86400)::double precision)
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS id"""


def load(engine: Engine, rows: int, now: datetime) -> None:
    """Create ``event`` and load ``rows`` rows set-based, the primary key built afterwards."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS event"))
        conn.execute(
            text("CREATE TABLE event (id bigint NOT NULL, ip text, page text, at timestamptz)")
        )
        step = 1_000_000
        for first in range(1, rows + 1, step):
            last = min(rows, first + step - 1)
            conn.execute(
                text(f"INSERT INTO event (id, ip, page, at) {_ROWS}"),
                {"now": now, "first": first, "last": last},
            )
        conn.execute(text("ALTER TABLE event ADD PRIMARY KEY (id)"))
    pg.vacuum_analyze(engine, ["event"])


def restore(engine: Engine, rows: int, now: datetime) -> None:
    """Put the deleted rows back exactly as :func:`load` made them, and vacuum."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO event (id, ip, page, at)"
                f" SELECT * FROM ({_ROWS}) AS r(id, ip, page, at)"
                " WHERE NOT EXISTS (SELECT 1 FROM event e WHERE e.id = r.id)"
            ),
            {"now": now, "first": 1, "last": rows},
        )
    pg.vacuum_analyze(engine, ["event"])


def counts(engine: Engine, now: datetime) -> tuple[int, int]:
    """Rows left, and expired rows left (untimed checks: a bench of a no-op proves nothing)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE at < CAST(:now AS timestamptz)"
                " - make_interval(days => :days)) FROM event"
            ),
            {"now": now, "days": PERIOD_DAYS},
        ).one()
    return int(row[0]), int(row[1])


# The two sides ------------------------------------------------------------------------------


def raw_delete(engine: Engine, now: datetime, batch: int) -> int:
    """The baseline: select a batch of expired ids after the last one, delete them, commit."""
    cutoff = now - timedelta(days=PERIOD_DAYS)
    select_ids = text("SELECT id FROM event WHERE at < :cutoff AND id > :last ORDER BY id LIMIT :n")
    delete_ids = text("DELETE FROM event WHERE id = ANY(:ids)")
    last, done = 0, 0
    while True:
        with engine.begin() as conn:
            ids = list(
                conn.execute(select_ids, {"cutoff": cutoff, "last": last, "n": batch}).scalars()
            )
            if not ids:
                return done
            done += conn.execute(delete_ids, {"ids": ids}).rowcount
        last = ids[-1]


def raw_delete_subquery(engine: Engine, now: datetime, batch: int) -> int:
    """The other baseline: one statement per batch, ``DELETE ... WHERE id IN (SELECT id ...
    LIMIT n) RETURNING id``, commit, repeat."""
    cutoff = now - timedelta(days=PERIOD_DAYS)
    statement = text(
        "DELETE FROM event WHERE id IN (SELECT id FROM event WHERE at < :cutoff AND id > :last"
        " ORDER BY id LIMIT :n) RETURNING id"
    )
    last, done = 0, 0
    while True:
        with engine.begin() as conn:
            ids = list(
                conn.execute(statement, {"cutoff": cutoff, "last": last, "n": batch}).scalars()
            )
        if not ids:
            return done
        done += len(ids)
        last = max(ids)


def troth_sweep(target: Target, policy: Policy, now: datetime, batch: int) -> int:
    seen: list[int] = []
    counted = sweep_dataset(
        target,
        policy,
        now,
        hash_key=HASH_KEY,
        batch_size=batch,
        progress=lambda done, total: seen.append(done),
    )
    return counted.rules.get("visitor_logs", {}).get("deleted", 0)


# Measuring ----------------------------------------------------------------------------------


class LockClock:
    """The longest transaction on ``engine`` from BEGIN to the end of its COMMIT (transactions
    that roll back, read-only ones, are not counted)."""

    def __init__(self, engine: Engine) -> None:
        self.longest = 0.0
        self.started: float | None = None
        event.listen(engine, "begin", self._begin)
        original = engine.dialect.do_commit

        def do_commit(dbapi_connection: Any) -> None:
            original(dbapi_connection)
            if self.started is not None:
                self.longest = max(self.longest, time.perf_counter() - self.started)
                self.started = None

        engine.dialect.do_commit = do_commit  # type: ignore[method-assign]

    def _begin(self, conn: Connection) -> None:
        self.started = time.perf_counter()

    def reset(self) -> None:
        self.longest, self.started = 0.0, None


def run(url: str, rows: int, rounds: int = ROUNDS) -> list[pg.Result]:
    """Load the table and measure both sides ``rounds`` times each, taking turns; rows of (case,
    troth, baseline, ratio, aim)."""
    now = datetime.now(UTC).replace(microsecond=0)
    policy = load_policy(POLICY)
    (dataset,) = read_datasets(DATASET, "events.yaml")
    with pg.bench_database(url, BENCH_NAME) as engine:
        began = time.perf_counter()
        load(engine, rows, now)
        loaded = time.perf_counter() - began
        version = pg.server_version(engine)
        loaded_rows, expired = counts(engine, now)
        assert loaded_rows == rows and abs(expired - 0.3 * rows) <= 1, "not the load expected"
        print(
            f"retention: PostgreSQL {version}, {rows:,} rows of which {expired:,} expired, "
            f"loaded and analysed in {loaded:.1f} s"
        )
        target = Target(dataset, engine, policy=policy)
        clock = LockClock(engine)
        sides: dict[str, Callable[[], int]] = {
            "troth": lambda: troth_sweep(target, policy, now, BATCH),
            "raw": lambda: raw_delete(engine, now, BATCH),
            "subquery": lambda: raw_delete_subquery(engine, now, BATCH),
        }
        spent: dict[str, list[float]] = {side: [] for side in sides}
        locks: dict[str, list[float]] = {side: [] for side in sides}
        for n in range(rounds):
            for side in pg.in_turn(list(sides), n):
                if counts(engine, now) != (rows, expired):
                    began = time.perf_counter()
                    restore(engine, rows, now)
                    print(f"retention: restored in {time.perf_counter() - began:.1f} s (untimed)")
                clock.reset()
                began = time.perf_counter()
                deleted = sides[side]()
                spent[side].append(time.perf_counter() - began)
                locks[side].append(clock.longest)
                assert deleted == expired, f"{side} deleted {deleted:,}, not {expired:,}"
                assert counts(engine, now) == (rows - expired, 0), f"{side} left expired rows"
                print(
                    f"retention: {side}: {deleted:,} rows in {spent[side][-1]:.1f} s, "
                    f"longest batch transaction {locks[side][-1] * 1e3:.0f} ms"
                )
    rate = {side: pg.rate(expired, runs) for side, runs in spent.items()}
    best = max(("raw", "subquery"), key=lambda side: rate[side])
    longest = {side: max(runs) for side, runs in locks.items()}
    for side, runs in spent.items():
        print(f"retention: {side}, each run (s): {pg.each_run(runs, 2)}")
    return [
        (
            f"delete {expired:,} expired of {rows:,} rows, batches of {BATCH:,} "
            f"(median of {rounds})",
            f"{rate['troth']:,.0f} rows/s",
            f"{best}: {rate[best]:,.0f}/s (other: {rate[_other(best)]:,.0f}/s)",
            f"{rate['troth'] / rate[best]:.2f}x rate",
            f">= 0.7x: {'met' if rate['troth'] / rate[best] >= 0.7 else 'NOT met'}",
        ),
        (
            f"longest batch transaction, BEGIN to COMMIT (max of {rounds})",
            f"{longest['troth'] * 1e3:,.0f} ms",
            f"raw: {longest['raw'] * 1e3:,.0f} ms, subquery: {longest['subquery'] * 1e3:,.0f} ms",
            "",
            f"< 1 s: {'met' if longest['troth'] < 1 else 'NOT met'}",
        ),
    ]


def _other(side: str) -> str:
    return "subquery" if side == "raw" else "raw"


def main() -> int:
    rows = int(os.environ.get("TROTH_BENCH_RETENTION_ROWS", "10000000"))
    url = pg.server_url("retention")
    if url is None:
        return 0
    pg.print_table(run(url, rows), (70, 16, 46, 12))
    return 0


if __name__ == "__main__":
    sys.exit(main())
