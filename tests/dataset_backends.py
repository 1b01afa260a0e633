"""A fresh, empty database on each backend the dataset runner supports: a SQLite file, a
PostgreSQL schema, or a MariaDB database, dropped afterwards, so runs never see each other."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pg_support import postgres_schema
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from troth.store import make_engine


@contextmanager
def mariadb_database(mariadb_url: str, prefix: str = "troth_t") -> Iterator[str]:
    """A URL for a fresh utf8mb4 database on the server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(mariadb_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = make_url(mariadb_url).set(database=name).update_query_dict({"charset": "utf8mb4"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@contextmanager
def fresh_engine(backend: str, server_url: str | None) -> Iterator[Engine]:
    """An engine on an empty database of ``backend`` (sqlite, postgres or mariadb)."""
    with _fresh_url(backend, server_url) as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@contextmanager
def _fresh_url(backend: str, server_url: str | None) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="troth-dataset-") as directory:
            yield f"sqlite:///{Path(directory) / 'company.db'}"
    elif backend == "postgres":
        assert server_url is not None
        with postgres_schema(server_url, "troth_ds") as url:
            yield url
    elif backend == "mariadb":
        assert server_url is not None
        with mariadb_database(server_url) as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend}")
