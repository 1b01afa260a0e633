"""The vault's tables: collected items, encrypted under their subject's key, and the events
that start their retention clocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
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

# 64-bit keys on PostgreSQL (every form field of every submission is a row). SQLite's INTEGER
# PRIMARY KEY is 64-bit already, and must stay INTEGER to remain the rowid.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
# The longest agreed period stored (as ISO 8601: ``P90D``).
PERIOD_MAX_LENGTH = 40


class VaultItem(Base):
    """One collected value: a declared category's value for one subject, from one submission.

    ``ciphertext`` is the value encrypted under the subject's own data key, bound to
    ``(subject_id, submission_id, position, category)``; nothing else here is personal data.
    ``retain_until`` is the retention deadline the governing rule ``retention_rule`` gives, or
    empty while that rule's clock waits for ``waiting_for`` (an event such as
    ``account_closed``) to be recorded for the subject. ``hold_id`` names the
    :class:`ChildHold` keeping the item unusable (a child's data awaiting a parent's consent, or
    isolated); no read returns an item while it is set. ``client`` is the key of the company's
    client the item was collected for, when a rule with a per-client override covers it (its
    clock may wait for the client's event, and the client's agreed period may replace the
    rule's). ``isolated_at`` is set when a retention sweep isolated the item at its deadline
    (the ``isolate`` action): kept, encrypted, out of every ordinary read (docs/retention.md).
    """

    __tablename__ = "vault_items"
    __table_args__ = (
        UniqueConstraint("submission_id", "position", name="uq_vault_items_submission_position"),
        Index("ix_vault_items_retain_until", "retain_until"),
        Index("ix_vault_items_subject_waiting", "subject_id", "waiting_for"),
        Index("ix_vault_items_client_waiting", "client", "waiting_for"),
        # The retention sweep and plan take one rule's due items in deadline order.
        Index("ix_vault_items_rule_until", "retention_rule", "retain_until"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), ForeignKey("subjects.id"))
    submission_id: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(200))
    collection_point: Mapped[str | None] = mapped_column(String(500))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(40))
    retention_rule: Mapped[str] = mapped_column(String(200))
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiting_for: Mapped[str | None] = mapped_column(String(200))
    hold_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("child_holds.id"), index=True
    )
    client: Mapped[str | None] = mapped_column(String(200))
    isolated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"VaultItem(id={self.id!r}, subject_id={self.subject_id!r}, {self.category!r})"


class SubjectEvent(Base):
    """Something that happened to a subject and can start a retention clock (P17):
    ``account_closed``, ``contract_ended``, ``last_activity`` or a declared custom event."""

    __tablename__ = "subject_events"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), ForeignKey("subjects.id"), index=True)
    event: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"SubjectEvent(subject_id={self.subject_id!r}, event={self.event!r})"


class ClientEvent(Base):
    """Something that happened to one of the company's clients and can start the retention
    clocks of the items collected for it (``contract_ended``, ``project_completed``, ...)."""

    __tablename__ = "client_events"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    client: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[str] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"ClientEvent(client={self.client!r}, event={self.event!r})"


class ClientOverride(Base):
    """The retention period agreed with one client for one rule that allows it
    (``per_client_override: true``): it replaces the rule's period for that client's items.
    ``period`` is an ISO-8601 duration (``P90D``)."""

    __tablename__ = "client_overrides"
    __table_args__ = (UniqueConstraint("client", "rule", name="uq_client_overrides_client_rule"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    client: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(PERIOD_MAX_LENGTH))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"ClientOverride(client={self.client!r}, rule={self.rule!r}, {self.period!r})"


HOLD_STATUSES = ("held", "released", "refused", "expired", "isolated")


class ChildHold(Base):
    """A child's submission kept unusable until a parent consents (P29), or isolated.

    ``held``: stored, unusable, waiting for the parent until ``window_ends``; ``released``: the
    parent consented and the items are usable; ``refused`` and ``expired``: the parent said no,
    or did not answer in time, and the items were deleted; ``isolated``: found to be a child's
    without consent and kept unusable (the declaration's ``on_found_without_consent:
    isolate``). ``parent_subject_id`` is the subject troth keeps for the parent's email
    identity: the address itself is only ever stored encrypted, as that subject's identity.
    ``categories`` are the declared categories held (vocabulary, not values).
    """

    __tablename__ = "child_holds"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in HOLD_STATUSES) + ")", name="status"
        ),
        Index("ix_child_holds_status_window", "status", "window_ends"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), ForeignKey("subjects.id"), index=True)
    submission_id: Mapped[str | None] = mapped_column(String(36))
    purposes: Mapped[list[str]] = mapped_column(JSON)
    categories: Mapped[list[str]] = mapped_column(JSON)
    parent_subject_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("subjects.id"))
    status: Mapped[str] = mapped_column(String(16))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_ends: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(40))

    def __repr__(self) -> str:
        return f"ChildHold(id={self.id!r}, subject_id={self.subject_id!r}, {self.status!r})"
