"""The ``publications`` table: testimonials, case studies and portfolio items, and their review.

The title and text are the person's own words about themselves, personal data: ``content`` holds
them only encrypted under the subject's data key, and so does ``review_to``, the address the
review link went to (the approval's confirmation goes there too). Erasing the subject makes the
item unreadable, and an unreadable item is never listed.

``revision`` counts drafts: a review link names the revision it was sent for, so that a draft
changed after the link was sent needs a review of its own.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class PublicationKind(StrEnum):
    testimonial = "testimonial"
    case_study = "case_study"
    portfolio = "portfolio"

    @property
    def label(self) -> str:
        """How a person reads the kind, in a sentence."""
        return {"testimonial": "testimonial", "case_study": "case study"}.get(
            self.value, "portfolio item"
        )


class PublicationStatus(StrEnum):
    draft = "draft"  # waiting for the person's review
    approved = "approved"  # published
    rejected = "rejected"  # the person said no
    withdrawn = "withdrawn"  # taken down (or never to be published) at the person's request


class Publication(Base):
    __tablename__ = "publications"
    __table_args__ = (
        CheckConstraint("kind IN ('testimonial', 'case_study', 'portfolio')", name="kind"),
        CheckConstraint("status IN ('draft', 'approved', 'rejected', 'withdrawn')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    review_to: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"Publication(id={self.id!r}, kind={self.kind!r}, status={self.status!r})"
