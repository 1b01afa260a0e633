"""The retention tables: legal holds, the aggregates anonymisation keeps, and sweep runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime
from troth.vault.models import BIG_ID

HOLD_SCOPES = ("subject", "client", "category", "dataset")


class LegalHold(Base):
    """A legal hold (P20): while active, no retention sweep deletes, anonymises or isolates the
    data it covers.

    ``scope`` says what ``target`` names: a subject's troth id, a client's key, a data category
    (and every category under it), or a dataset's key (``vault`` for troth's own store;
    ``DATASET.COLLECTION`` for one collection of a company database). ``reason`` is written by
    staff and shown in the review report: it must name the matter (a case number, an
    authority's order), never a person's data. ``placed_by`` and ``lifted_by`` say who, as the
    person or process gave it. A hold is active from ``placed_at`` until it is lifted or its
    ``until`` has passed.
    """

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint(
            "scope IN (" + ", ".join(f"'{s}'" for s in HOLD_SCOPES) + ")", name="scope"
        ),
        Index("ix_legal_holds_lifted_until", "lifted_at", "until"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(400))
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"LegalHold(id={self.id!r}, {self.scope}={self.target!r})"


class RetentionAggregate(Base):
    """What an anonymised vault item leaves behind: a count per rule, category, purpose and
    month of collection (``YYYY-MM``), with no link to the person or the submission."""

    __tablename__ = "retention_aggregates"
    __table_args__ = (
        UniqueConstraint(
            "source", "rule", "category", "purpose", "month", name="uq_retention_aggregates_key"
        ),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(200))
    month: Mapped[str] = mapped_column(String(7))
    count: Mapped[int] = mapped_column(Integer)


class RetentionSweep(Base):
    """One run of the retention sweep. ``counts`` is ``{source: {rule: {action: n}}}``, written
    in the same transaction as each batch, so a run that was stopped half-way still says what
    it did; ``finished_at`` is empty for such a run (or one still going). ``outcome`` says how it
    ended: empty while it runs, ``finished``, ``failed`` (an error it recorded itself) or
    ``interrupted`` (found unfinished by a later sweep: the process died)."""

    __tablename__ = "retention_sweeps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    outcome: Mapped[str | None] = mapped_column(String(16))
