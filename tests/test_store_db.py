"""The database layer: engines, SQLite settings, migrations, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, select, text

# Each registers its tables on Base.metadata.
import troth.apikeys.models
import troth.audit.models
import troth.consent.models
import troth.notify.models
import troth.publications.models
import troth.publishing.models
import troth.retention.models
import troth.staff.models
import troth.subjects.models  # noqa: F401
from troth.store import (
    Base,
    DatabaseURLError,
    UTCDateTime,
    display_url,
    downgrade,
    make_engine,
    parse_url,
    upgrade,
)
from troth.store.db import MIGRATIONS


def test_sqlite_file_gets_its_directory_foreign_keys_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "troth.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()
    assert path.parent.is_dir()
    assert path.exists()


def test_sqlite_savepoint_rolls_back_only_its_own_work(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    table = Table("t", MetaData(), Column("n", Integer, unique=True))
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert().values(n=1))
        nested = connection.begin_nested()
        connection.execute(table.insert().values(n=2))
        nested.rollback()
        connection.execute(table.insert().values(n=3))
    with engine.connect() as connection:
        assert connection.execute(select(table.c.n).order_by(table.c.n)).scalars().all() == [1, 3]
    engine.dispose()


def test_plain_postgresql_urls_use_psycopg() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("sqlite:///var/troth.db").drivername == "sqlite"


def test_display_url_hides_the_password() -> None:
    shown = display_url("postgresql+psycopg://troth:s3cret@db.internal/troth")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://troth:***@db.internal/troth"


def test_a_malformed_url_is_a_clear_error() -> None:
    with pytest.raises(DatabaseURLError, match="not a database URL"):
        make_engine("var/troth.db")


def test_an_unknown_driver_is_a_clear_error() -> None:
    with pytest.raises(DatabaseURLError, match="no database driver"):
        make_engine("nosuchdb://host/db")


def test_upgrade_creates_the_tables_and_is_idempotent(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    tables = set(inspect(engine).get_table_names())
    assert {"policy_versions", "audit_events", "alembic_version"} <= tables
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [
            ("0014",)
        ]
    engine.dispose()


def test_migrations_match_the_models(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_constraints_are_named_by_convention(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    uniques = {u["name"] for u in inspect(engine).get_unique_constraints("policy_versions")}
    engine.dispose()
    assert uniques == {"uq_policy_versions_content_hash", "uq_policy_versions_version"}


def test_downgrade_to_base_removes_the_tables(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    downgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    assert "policy_versions" not in inspect(engine).get_table_names()
    engine.dispose()


def test_the_alembic_environment_ships_inside_the_package() -> None:
    # Alembic is configured from code, so these files are all an installed troth needs.
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert (MIGRATIONS / "versions" / "0001_policy_versions.py").is_file()


def test_utc_datetime_round_trips_as_aware_utc(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    table = Table("stamps", MetaData(), Column("at", UTCDateTime))
    table.metadata.create_all(engine)
    india = timezone(timedelta(hours=5, minutes=30))
    with engine.begin() as connection:
        connection.execute(table.insert().values(at=datetime(2026, 3, 1, 10, 0, tzinfo=india)))
        stored = connection.execute(select(table.c.at)).scalar_one()
    engine.dispose()
    assert stored == datetime(2026, 3, 1, 4, 30, tzinfo=UTC)
    assert stored.tzinfo is UTC


def test_utc_datetime_refuses_naive_times(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    table = Table("stamps", MetaData(), Column("at", UTCDateTime))
    table.metadata.create_all(engine)
    with pytest.raises(Exception, match="naive datetime"), engine.begin() as connection:
        connection.execute(table.insert().values(at=datetime(2026, 3, 1, 10, 0)))
    engine.dispose()
