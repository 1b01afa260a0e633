"""The rights-request tables: requests, their timeline, per-step progress, recipient tasks and
the reminders already sent.

Nothing about the requester is stored in plain text: who asked (a parent's or nominee's address
and relationship), proposed corrections, staff reasons and the export bundle are encrypted under
the subject's own data key, so erasing the subject (crypto-shredding) erases them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime

from .states import RequestState


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class RightsRequest(Base):
    """One request by or for a data subject to exercise a right (P10–P15)."""

    __tablename__ = "rights_requests"
    __table_args__ = (
        CheckConstraint(_in("state", tuple(s.value for s in RequestState)), name="state"),
        CheckConstraint(_in("acting_as", ("self", "parent", "nominee")), name="acting_as"),
        Index("ix_rights_requests_state_complete_by", "state", "complete_by"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    acting_as: Mapped[str] = mapped_column(String(16))
    jurisdiction: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledge_by: Mapped[datetime] = mapped_column(UTCDateTime)
    complete_by: Mapped[datetime] = mapped_column(UTCDateTime)
    original_complete_by: Mapped[datetime] = mapped_column(UTCDateTime)
    extended: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verification_method: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Encrypted under the subject's key: {"email", "relationship"} of who asked.
    requester: Mapped[bytes] = mapped_column(LargeBinary)
    # Encrypted under the subject's key: {category: proposed value} for a correction.
    proposed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Encrypted under the subject's key: staff's reasons (extension, denial) as told the subject.
    reasons: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Encrypted under the subject's key: the access or portability export (a zip).
    bundle: Mapped[bytes | None] = mapped_column(LargeBinary)
    bundle_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What execution did: ids, categories, rule keys and counts only (never values).
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"RightsRequest(id={self.id!r}, kind={self.kind!r}, state={self.state!r})"


class RequestTimelineEntry(Base):
    """One entry of a request's timeline, as its page shows it: what happened, when, by whom."""

    __tablename__ = "rights_request_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rights_requests.id"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class RequestStep(Base):
    """A step of a request's execution that has been applied: never applied twice."""

    __tablename__ = "rights_request_steps"
    __table_args__ = (UniqueConstraint("request_id", "step", name="uq_rights_request_steps"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), ForeignKey("rights_requests.id"))
    step: Mapped[str] = mapped_column(String(60))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecipientTask(Base):
    """Tell a declared recipient that received the affected categories about a correction,
    erasure or restriction (P23, GDPR Art. 19)."""

    __tablename__ = "rights_recipient_tasks"
    __table_args__ = (
        UniqueConstraint("request_id", "recipient", name="uq_rights_recipient_tasks"),
        CheckConstraint(_in("state", ("open", "done")), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("rights_requests.id"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(200))
    categories: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(200))


class DeadlineReminder(Base):
    """A reminder sent to the privacy team about one deadline of one request: one per deadline."""

    __tablename__ = "rights_deadline_reminders"
    __table_args__ = (
        UniqueConstraint("request_id", "deadline", "due_at", name="uq_rights_deadline_reminders"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(36), ForeignKey("rights_requests.id"))
    deadline: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
