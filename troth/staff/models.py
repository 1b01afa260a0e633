"""The ``staff_accounts`` and ``staff_sessions`` tables of the console's privacy team."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from troth.store import Base, UTCDateTime

from .roles import Role

ROLE_CHECK = "role IN ({})".format(", ".join(f"'{role.value}'" for role in Role))


class StaffAccount(Base):
    """A member of the privacy team.

    The email address is personal data: it is stored sealed under the master key
    (``email_ciphertext``) and found through a keyed HMAC of its normalised form
    (``email_lookup``). The TOTP secret is sealed too. ``totp_last_step`` is the time step of the
    last code accepted, so that no code is accepted twice. ``failed_attempts`` counts failures
    since ``failures_since``; five within the lockout window lock the account until
    ``locked_until``.
    """

    __tablename__ = "staff_accounts"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    email_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"StaffAccount(id={self.id!r}, role={self.role!r})"


class StaffSession(Base):
    """One signed-in browser. ``id`` is the SHA-256 of the token in its cookie, so the table
    alone cannot be used to take over a session. ``verified_at`` is when the second factor was
    given: until then the session can only reach the code step."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        verified = self.verified_at is not None
        return f"StaffSession(account_id={self.account_id!r}, verified={verified})"
