"""Opening troth's store from a command: migrate it, and exit 1 with a message naming the
database (never its password) when it cannot be opened or a statement fails."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer

from .app import err

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


def database_failed(db: str, exc: SQLAlchemyError) -> NoReturn:
    """Exit 1 with the driver's reason and the database's display URL."""
    from troth.store import display_url

    reason = getattr(exc, "orig", None) or exc
    err.print(f"error: database {display_url(db)}: {reason}", markup=False)
    raise typer.Exit(1) from None


def sessions_or_exit(db: str) -> tuple[Engine, sessionmaker[Session]]:
    """The migrated store at ``db`` and its sessions; the caller disposes of the engine."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.store import DatabaseURLError, make_engine, make_sessionmaker, upgrade

    try:
        engine = make_engine(db)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        database_failed(db, exc)
    return engine, make_sessionmaker(engine)


def in_transaction_or_exit(db: str, work: Callable[[Session], T]) -> T:
    """Migrate the database, run ``work`` in one transaction and commit; exit 1 with a message."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.store import session_scope

    engine, sessions = sessions_or_exit(db)
    try:
        with session_scope(sessions) as session:
            return work(session)
    except SQLAlchemyError as exc:
        database_failed(db, exc)
    finally:
        engine.dispose()
