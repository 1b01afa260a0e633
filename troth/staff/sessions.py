"""Console sessions: opened by a password, completed by a TOTP code, ended by time or sign-out.

The browser holds a random token; the table holds its SHA-256. A session is *half* until the
second factor is given, and then a new token replaces the first (the token a browser held before
it proved its second factor never becomes a full session). Every session ends after
:data:`IDLE_TIMEOUT` without a request and :data:`ABSOLUTE_LIFETIME` after it began, whatever its
activity; a half session after :data:`HALF_SESSION_LIFETIME`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event

from .models import StaffAccount, StaffSession
from .roles import Role

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_LIFETIME = timedelta(hours=12)
HALF_SESSION_LIFETIME = timedelta(minutes=10)
TOKEN_BYTES = 32


@dataclass(frozen=True)
class SignedIn:
    """Who a request comes from, as far as pages need to know."""

    session_id: str
    account_id: str
    display_name: str
    role: Role
    csrf_token: str
    verified: bool
    expires_at: datetime

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.account_id)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def open_session(
    session: Session, account: StaffAccount, *, now: datetime, verified: bool
) -> tuple[StaffSession, str]:
    """A new session row and the token for the browser's cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = StaffSession(
        id=token_hash(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(TOKEN_BYTES),
        created_at=now,
        last_seen_at=now,
        verified_at=now if verified else None,
        ended_at=None,
    )
    session.add(row)
    session.flush()
    return row, token


def expiry_of(row: StaffSession) -> datetime:
    """When the session ends if no further request comes."""
    if row.verified_at is None:
        return min(row.created_at + HALF_SESSION_LIFETIME, row.last_seen_at + IDLE_TIMEOUT)
    return min(row.created_at + ABSOLUTE_LIFETIME, row.last_seen_at + IDLE_TIMEOUT)


def current_session(session: Session, token: str, *, now: datetime) -> SignedIn | None:
    """The live session ``token`` opens, its last request moved to ``now``; else None.

    A session found past its idle or absolute limit is ended here (``staff.session_expired``);
    so is one whose account was disabled meanwhile.
    """
    row = session.get(StaffSession, token_hash(token))
    if row is None or row.ended_at is not None:
        return None
    account = session.get(StaffAccount, row.account_id)
    if account is None or account.disabled_at is not None:
        end_session(session, row, now=now, action="staff.session_ended", reason="disabled")
        return None
    if now >= expiry_of(row):
        reason = "idle" if now >= row.last_seen_at + IDLE_TIMEOUT else "lifetime"
        end_session(session, row, now=now, action="staff.session_expired", reason=reason)
        return None
    row.last_seen_at = now
    return signed_in(row, account)


def signed_in(row: StaffSession, account: StaffAccount) -> SignedIn:
    return SignedIn(
        session_id=row.id,
        account_id=account.id,
        display_name=account.display_name,
        role=Role(account.role),
        csrf_token=row.csrf_token,
        verified=row.verified_at is not None,
        expires_at=expiry_of(row),
    )


def end_session(
    session: Session,
    row: StaffSession,
    *,
    now: datetime,
    action: str = "staff.signed_out",
    reason: str | None = None,
) -> None:
    """End a session and record why (``staff.signed_out``, ``staff.session_expired``, …)."""
    if row.ended_at is not None:
        return
    row.ended_at = now
    session.flush()
    details: dict[str, str] = {"staff_id": row.account_id}
    if reason:
        details["reason"] = reason
    record_event(
        session, actor=Actor.staff(row.account_id), action=action, details=details, now=now
    )


def sign_out(session: Session, token: str, *, now: datetime) -> bool:
    """End the session ``token`` opens; False if there was none to end."""
    row = session.get(StaffSession, token_hash(token))
    if row is None or row.ended_at is not None:
        return False
    end_session(session, row, now=now)
    return True
