"""What the PostgreSQL benches share: the server to use, a throwaway database to run in, and the
arithmetic and printing of their timings.

The server comes from TROTH_BENCH_POSTGRES_URL (default: the test server's usual address). A
bench runs in a fresh database of its own beside the URL's, or, where the server does not allow
creating databases, in a fresh schema of the same name inside the URL's database; either is
dropped at the end (:func:`bench_database`).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import URL, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from troth.store import display_url, make_engine

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# One line of a bench's results table: case, troth, baseline, ratio, aim.
Result = tuple[str, str, str, str, str]


# The server ---------------------------------------------------------------------------------


def unreachable(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None when it can."""
    try:
        engine = make_engine(url, connect_args={"connect_timeout": 3})
    except Exception as exc:  # a bad URL or a missing driver: the same outcome, say which
        return f"{type(exc).__name__}: {exc}"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the server means the same thing here
        return f"PostgreSQL is not reachable at {display_url(url)} ({type(exc).__name__})"
    finally:
        engine.dispose()
    return None


def server_url(bench: str) -> str | None:
    """The server TROTH_BENCH_POSTGRES_URL names (or :data:`DEFAULT_URL`), or None, after
    printing ``<bench>: skipped: <why>``, when it cannot be used."""
    url = os.environ.get("TROTH_BENCH_POSTGRES_URL", DEFAULT_URL)
    reason = unreachable(url)
    if reason is not None:
        print(f"{bench}: skipped: {reason}; start one or set TROTH_BENCH_POSTGRES_URL")
        return None
    return url


def search_path_url(url: str | URL, schema: str) -> URL:
    """``url`` with its connections' search_path set to ``schema``."""
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})


@contextmanager
def bench_database(url: str, name: str) -> Iterator[Engine]:
    """An engine on a fresh database ``name`` beside the URL's (or, without the right to create
    databases, a fresh schema ``name`` in it), dropped afterwards."""
    admin = make_engine(url, connect_args={"connect_timeout": 3})
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        as_database = True
    except SQLAlchemyError:
        as_database = False
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = make_engine(
        make_url(url).set(database=name) if as_database else search_path_url(url, name)
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if as_database:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        admin.dispose()


def server_version(engine: Engine) -> str:
    """The server's version, as ``SHOW server_version`` gives it."""
    with engine.connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar_one())


def vacuum_analyze(engine: Engine, tables: Iterable[str]) -> None:
    """``VACUUM ANALYZE`` each of ``tables``, outside any transaction (as VACUUM requires)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.execute(text(f"VACUUM ANALYZE {table}"))


# Timings ------------------------------------------------------------------------------------


def in_turn(sides: Sequence[str], n: int) -> list[str]:
    """The order the sides run in, in round ``n``: as given in even rounds, reversed in odd ones,
    so that drift in the machine's load falls on every side alike."""
    return list(sides) if n % 2 == 0 else list(reversed(sides))


def rate(count: int, runs: Sequence[float]) -> float:
    """Things per second: ``count`` things done in each run, over the runs' median seconds."""
    return count / statistics.median(runs)


def percentile(values: Sequence[float], q: float) -> float:
    """The value at quantile ``q`` (0 to 1) of ``values``, the nearest rank, no interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    """Seconds as milliseconds to one decimal, e.g. ``1,234.5 ms``."""
    return f"{seconds * 1e3:,.1f} ms"


def each_run(runs: Iterable[float], places: int) -> str:
    """Each run's seconds, to ``places`` decimals, separated by spaces."""
    return " ".join(f"{t:.{places}f}" for t in runs)


def print_table(results: Iterable[Result], widths: tuple[int, int, int, int]) -> None:
    """Print a bench's results under a header line, in columns of ``widths`` characters (case,
    troth, baseline and ratio; the aim takes the rest of the line)."""
    case, troth, baseline, ratio = widths
    print(
        f"{'case':<{case}}{'troth':>{troth}}  {'baseline (same run)':<{baseline}}"
        f"{'ratio':>{ratio}}  aim"
    )
    for c, t, b, r, aim in results:
        print(f"{c:<{case}}{t:>{troth}}  {b:<{baseline}}{r:>{ratio}}  {aim}")
