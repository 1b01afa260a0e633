"""Helpers for the audit trail tests: databases on both backends, events, tampering."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pg_support import postgres_schema
from sqlalchemy import JSON, Engine, bindparam, func, select, text
from sqlalchemy.orm import Session

from troth.audit import Actor, AuditEvent, record_event
from troth.store import make_engine, make_sessionmaker, upgrade

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
JOB = Actor.system("test.job")


@contextmanager
def migrated_engine(backend: str, tmp_path: Path, postgres_url: str | None) -> Iterator[Engine]:
    """A migrated, empty troth database on ``backend`` ("sqlite" or "postgres")."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    assert postgres_url is not None
    with postgres_schema(postgres_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def record_many(engine: Engine, count: int, *, actor: Actor = JOB) -> list[AuditEvent]:
    """``count`` events in one transaction, one minute apart, each with its own details."""
    with make_sessionmaker(engine).begin() as session:
        return [
            record_event(
                session,
                actor=actor,
                action="test.step_done",
                subject_id=f"sub_{n % 7}",
                policy_version="3.0",
                details={"step": n, "items": [n, n + 1], "note": "naïve café"},
                now=NOW + timedelta(minutes=n),
            )
            for n in range(count)
        ]


def execute(engine: Engine, sql: str, **params: Any) -> None:
    """Raw SQL, committed: how a tamperer with database access would do it."""
    statement = text(sql)
    if "details" in params:
        statement = statement.bindparams(bindparam("details", type_=JSON))
    with engine.begin() as connection:
        connection.execute(statement, params)


def swap_seq(engine: Engine, first: int, second: int) -> None:
    """Exchange two events' places in the chain (seq is unique, so through a spare value)."""
    with engine.begin() as connection:
        for old, new in ((first, -1), (second, first), (-1, second)):
            connection.execute(
                text("UPDATE audit_events SET seq = :new WHERE seq = :old"),
                {"old": old, "new": new},
            )


def count_events(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0
