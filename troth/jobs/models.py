"""The jobs table: durable work recorded in the transaction that needs it, claimed under a lease."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class JobState(StrEnum):
    """``pending`` waits for ``run_after``; ``running`` is held by a lease; ``done`` and
    ``failed`` (out of attempts) are final."""

    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


class Job(Base):
    """One piece of durable work. ``payload`` holds ids and numbers only, never personal data:
    the handler reads what it needs from the rows the ids name."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'running', 'done', 'failed')", name="state"),
        Index("ix_jobs_state_run_after", "state", "run_after"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, kind={self.kind!r}, state={self.state!r})"
