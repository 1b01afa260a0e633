"""The ``subjects`` and ``identities`` tables, and ``email_verifications``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime


class Subject(Base):
    """A data subject: an opaque id and the subject's own data key, wrapped by the master key.

    ``merged_into`` is set when this subject (typically an anonymous browser) turned out to be
    another, known subject: its identities moved there, and its consent history is read as part
    of that subject's. ``wrapped_key`` is emptied when the subject is crypto-shredded.
    """

    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    merged_into: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("subjects.id"), index=True
    )

    def __repr__(self) -> str:
        return f"Subject(id={self.id!r})"


class Identity(Base):
    """One identity of a subject: found by its keyed HMAC ``lookup``, stored only encrypted."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("lookup", name="uq_identities_lookup"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"Identity(subject_id={self.subject_id!r}, kind={self.kind!r})"


class EmailVerification(Base):
    """One attempt to prove control of an email address: a code and a link, either one enough.

    Nothing here is readable on its own: the code, the link's token, the address and the client's
    network address are kept as keyed hashes (``*_hash``), and the address itself only sealed
    under a subkey of the master key (``address``), emptied once the verification is used. Rows
    are deleted once they are older than the rate limit's window (see troth.subjects.verification).
    """

    __tablename__ = "email_verifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    client_hash: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[bytes] = mapped_column(LargeBinary)
    code_hash: Mapped[str] = mapped_column(String(64))
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"EmailVerification(id={self.id!r}, purpose={self.purpose!r})"
