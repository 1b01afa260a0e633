"""The consent ledger's tables. Rows are only ever added; the current state is their fold."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class ConsentState(StrEnum):
    given = "given"
    refused = "refused"
    withdrawn = "withdrawn"
    expired = "expired"


class Method(StrEnum):
    """How a consent event was collected."""

    web_form = "web_form"
    cookie_banner = "cookie_banner"
    api = "api"
    email_link = "email_link"
    global_privacy_control = "global_privacy_control"
    staff = "staff"


class ActedBy(StrEnum):
    """Who expressed the choice: the subject, a parent for a child, or a nominee."""

    subject = "subject"
    parent = "parent"
    nominee = "nominee"


class SignalKind(StrEnum):
    """Facts about a subject, other than consent, that a decision must respect."""

    restriction = "restriction"
    objection = "objection"
    gpc_opt_out = "gpc_opt_out"
    child = "child"


# Rows a busy cookie banner adds by the billion: 64-bit keys on PostgreSQL. SQLite's INTEGER
# PRIMARY KEY is 64-bit already, and must stay INTEGER to remain the rowid.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class ConsentEvent(Base):
    """One consent event, carrying the fields of an ISO/IEC TS 27560 consent record."""

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint(_in("state", ConsentState), name="state"),
        CheckConstraint(_in("method", Method), name="method"),
        CheckConstraint(_in("acted_by", ActedBy), name="acted_by"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), unique=True)
    subject_id: Mapped[str] = mapped_column(String(36), index=True)
    purpose: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(40))
    notice_hash: Mapped[str] = mapped_column(String(64))
    categories: Mapped[list[str]] = mapped_column(JSON)
    jurisdiction: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(16))
    collection_point: Mapped[str | None] = mapped_column(String(500))
    method: Mapped[str] = mapped_column(String(32))
    acted_by: Mapped[str] = mapped_column(String(16))
    actor_ref: Mapped[str | None] = mapped_column(String(200))


class SubjectSignal(Base):
    """A restriction, objection, Global Privacy Control opt-out or child flag, raised or lifted.

    ``purpose`` narrows an objection to one purpose; empty means every purpose it can apply to.
    """

    __tablename__ = "subject_signals"
    __table_args__ = (CheckConstraint(_in("kind", SignalKind), name="kind"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(32))


class ConsentRenewal(Base):
    """Consent for ``purpose`` given before ``required_at`` must be given again.

    Written when a policy version with a material change is published and the declaration
    asks for fresh consent on such changes.
    """

    __tablename__ = "consent_renewals"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(200))
    policy_version: Mapped[str] = mapped_column(String(40))
    required_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentChange(Base):
    """A change feed for decision caches in other processes: which subjects changed, when.

    One row per write, however many subjects it touched (a batch of a thousand events is one
    row, not one per subject). An empty ``subject_ids`` (SQL NULL) means every subject (a
    renewal, a new policy). Old rows are pruned.
    """

    __tablename__ = "consent_changes"

    seq: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    subject_ids: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
