"""Database engine, sessions and migrations: SQLite by default, PostgreSQL for more workers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")

# The execution option that makes a SQLite transaction take the write lock at once.
_SQLITE_BEGIN = "troth_sqlite_begin"


class DatabaseURLError(ValueError):
    """The database URL cannot be used; the message says why and what to do."""


def parse_url(url: str | URL) -> URL:
    """Parse a database URL; plain ``postgresql://`` URLs use the psycopg (3) driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseURLError(
            f"'{url}' is not a database URL; use e.g. sqlite:///var/troth.db or "
            "postgresql+psycopg://user@host/dbname"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def display_url(url: str | URL) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except DatabaseURLError:
        return "<invalid database URL>"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def make_engine(url: str | URL, **options: Any) -> Engine:
    """Create an engine for ``url``; extra keyword arguments go to ``create_engine``.

    For a SQLite file the parent directory is created, and every connection gets foreign keys,
    write-ahead logging and real transactions (SQLAlchemy emits BEGIN, so savepoints and
    transactional DDL work).
    """
    parsed = parse_url(url)
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        file = _sqlite_file(parsed)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
    else:
        options.setdefault("pool_pre_ping", True)
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = (
            " (pip install 'troth[postgres]')" if parsed.get_backend_name() == "postgresql" else ""
        )
        raise DatabaseURLError(
            f"no database driver for '{parsed.drivername}': {exc}{hint}"
        ) from None
    if sqlite:
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (see the "begin" hook below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        begin = connection.get_execution_options().get(_SQLITE_BEGIN, "BEGIN")
        connection.exec_driver_sql(begin)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for ``engine``; objects stay readable after commit (``expire_on_commit=False``)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back when it raises."""
    with factory() as session, session.begin():
        yield session


def take_sqlite_write_lock(session: Session, table: str) -> None:
    """On SQLite, take the database's single write lock now (no-op elsewhere).

    A write that changes nothing still takes the lock, waiting up to the busy timeout if another
    transaction holds it. A transaction that has already read and only then writes fails at once
    ("database is locked") if another one committed in between; taking the lock before the first
    read makes a second writer wait its turn and then read what the first committed. Writing
    transactions opened with :func:`write_scope` hold it from their start already.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"UPDATE {table} SET rowid = rowid WHERE 0"))


@contextmanager
def write_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work that will write: commit at the end, roll back on an exception.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE``, taking the write lock (waiting up
    to the busy timeout) before anything is read. A deferred transaction that read first and
    wrote later would instead fail at once ("database is locked") whenever another connection
    had committed in between; with the lock taken up front, concurrent writers queue instead.
    Elsewhere it is an ordinary transaction.
    """
    with factory() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(session: Session) -> None:
    """Raise if the database cannot answer a trivial query."""
    session.execute(text("SELECT 1")).scalar_one()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured from code (no alembic.ini), so it works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_connection(engine_or_url: Engine | str | URL) -> Iterator[Connection]:
    engine = engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                connection = connection.execution_options(**{_SQLITE_BEGIN: "BEGIN IMMEDIATE"})
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    # Several servers starting at once migrate one after the other.
                    connection.execute(text("SELECT pg_advisory_xact_lock(7467243)"))
                yield connection
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def upgrade(engine_or_url: Engine | str | URL, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (the newest by default), in one transaction."""
    with _migration_connection(engine_or_url) as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine_or_url: Engine | str | URL, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``base`` removes every troth table)."""
    with _migration_connection(engine_or_url) as connection:
        command.downgrade(alembic_config(connection), revision)
