"""The ``api_keys`` table: server-to-server credentials, stored hashed, with scopes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class ApiKey(Base):
    """One API key. The secret is shown once at creation; only its SHA-256 is kept.

    ``id`` is the public part of the key (it appears in the key itself and in audit events);
    a revoked key keeps its row, so the audit trail can still name it. ``staff_role`` is the
    declared staff role (P22) the key reads subjects' data under, for keys with ``data:read``.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    staff_role: Mapped[str | None] = mapped_column(String(200))

    def __repr__(self) -> str:
        revoked = self.revoked_at is not None
        return f"ApiKey(id={self.id!r}, scopes={self.scopes!r}, revoked={revoked})"
