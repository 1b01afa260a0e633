"""The ``policy_versions`` table: every version of the declaration ever published."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class PolicyVersion(Base):
    """One published version: the declaration as written and the policy text as rendered then.

    Rows are never updated; a changed declaration is a new row under a new version string.
    """

    __tablename__ = "policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(40), unique=True)
    effective_date: Mapped[date] = mapped_column(Date, index=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization: Mapped[str] = mapped_column(String)
    declaration_yaml: Mapped[str] = mapped_column(Text)
    rendered_markdown: Mapped[str] = mapped_column(Text)
    rendered_html: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def short_hash(self) -> str:
        return self.content_hash[:12]

    def __repr__(self) -> str:
        return f"PolicyVersion(version={self.version!r}, content_hash={self.short_hash!r})"
