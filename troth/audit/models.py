"""The ``audit_events`` table: an append-only, hash-chained log of every state change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class ActorKind(StrEnum):
    """Who caused a state change."""

    staff = "staff"
    api_key = "api_key"
    subject = "subject"
    system = "system"


class AuditEvent(Base):
    """One state change: who, what, which subject (by id), when, under which policy version.

    Rows are only ever added. ``seq`` numbers them 1, 2, 3, … without gaps; ``hash`` covers the
    row's content and ``prev_hash`` (the hash of event ``seq - 1``), so any edit, removal or
    reordering breaks the chain (see :func:`troth.audit.verify_chain`).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(
            "actor_kind IN ('staff', 'api_key', 'subject', 'system')", name="actor_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject_id: Mapped[str | None] = mapped_column(String(100), index=True)
    policy_version: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"AuditEvent(seq={self.seq!r}, action={self.action!r}, hash={self.hash[:12]!r})"
