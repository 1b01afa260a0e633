"""The ``outbox_messages`` table: email written in the transaction that needed it, sent later.

The recipient and the rendered message are personal data and are stored only encrypted
(``recipient``, ``content``): under the subject's data key when the message has a subject (so that
erasing the subject makes its queued mail unreadable too), otherwise under the master key's
outbox subkey. Everything else on the row is bookkeeping a worker and an operator need: which
template, its state, how often it was tried and why the last try failed (a reason without the
address).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class MessageStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class OutboxMessage(Base):
    """One outgoing email. ``claimed_until`` is a worker's lease; ``claim`` names the claim, so
    that a worker whose lease ran out cannot mark a message another worker has since claimed."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    template: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(36), index=True)
    recipient: Mapped[bytes] = mapped_column(LargeBinary)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(36))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        return f"OutboxMessage(id={self.id!r}, template={self.template!r}, status={self.status!r})"
