"""Signing in: the password step, the code step (or TOTP enrolment), and lockout.

Every refusal looks the same to the person signing in, whether the address has no account, the
account is disabled or locked, or the password or code is wrong: only the audit trail says which.
Five failures on an account within :data:`LOCKOUT_WINDOW` lock it for :data:`LOCKOUT_DURATION`;
while locked, even the right password and code are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.subjects import Keyring

from .accounts import find_account, totp_secret_of
from .models import StaffAccount, StaffSession
from .passwords import hash_password, needs_rehash, password_matches
from .sessions import end_session, open_session, token_hash
from .totp import matching_step

MAX_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)

# Attempts on addresses without an account are recorded under this actor.
CONSOLE_ACTOR = Actor.system("troth.console")


@dataclass(frozen=True)
class Opened:
    """A session opened by a successful step, and the token for the browser's cookie."""

    row: StaffSession
    token: str


def is_locked(account: StaffAccount, now: datetime) -> bool:
    return account.locked_until is not None and now < account.locked_until


def sign_in_with_password(
    session: Session, keyring: Keyring, *, email: str, password: str, now: datetime
) -> Opened | None:
    """A half session if the address, password and account state allow it; else None.

    The caller commits either way: a failure is recorded (and may lock the account).
    """
    account = _locked_row(session, find_account(session, keyring, email))
    # Verified even without an account, so that the answer takes as long either way.
    matches = password_matches(account.password_hash if account else None, password)
    if account is None:
        record_event(
            session,
            actor=CONSOLE_ACTOR,
            action="staff.sign_in_failed",
            details={"step": "password", "reason": "unknown_account"},
            now=now,
        )
        return None
    refusal = _refusal(account, now) or (None if matches else "wrong_password")
    if refusal:
        _record_failure(session, account, now=now, step="password", reason=refusal)
        return None
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    row, token = open_session(session, account, now=now, verified=False)
    record_event(
        session,
        actor=Actor.staff(account.id),
        action="staff.password_accepted",
        details={"staff_id": account.id},
        now=now,
    )
    return Opened(row, token)


def needs_enrolment(session: Session, token: str) -> bool:
    """Whether the half session's account has yet to confirm its authenticator app."""
    account = _account_of(session, token)
    return account is not None and account.totp_enrolled_at is None


def sign_in_with_code(
    session: Session, keyring: Keyring, *, token: str, code: str, now: datetime
) -> Opened | None:
    """Complete a half session with a TOTP code: a new, full session; else None.

    The half session ends either way when it succeeds or the account locks. A first accepted
    code also enrols the account's authenticator (``staff.totp_enrolled``).
    """
    row = session.get(StaffSession, token_hash(token))
    if row is None or row.ended_at is not None or row.verified_at is not None:
        return None
    account = _locked_row(session, session.get(StaffAccount, row.account_id))
    if account is None:
        return None
    refusal = _refusal(account, now)
    step = None
    if refusal is None:
        secret = totp_secret_of(keyring, account)
        step = matching_step(secret, code, now, last_used_step=account.totp_last_step)
        refusal = None if step is not None else "wrong_code"
    if refusal or step is None:
        locked = _record_failure(session, account, now=now, step="code", reason=refusal)
        if locked or account.disabled_at is not None:
            end_session(session, row, now=now, action="staff.session_ended", reason="locked")
        return None
    account.totp_last_step = step
    account.failed_attempts = 0
    account.failures_since = None
    if account.totp_enrolled_at is None:
        account.totp_enrolled_at = now
        record_event(
            session,
            actor=Actor.staff(account.id),
            action="staff.totp_enrolled",
            details={"staff_id": account.id},
            now=now,
        )
    row.ended_at = now  # replaced by the full session below, never upgraded in place
    full, full_token = open_session(session, account, now=now, verified=True)
    record_event(
        session,
        actor=Actor.staff(account.id),
        action="staff.signed_in",
        details={"staff_id": account.id},
        now=now,
    )
    return Opened(full, full_token)


def _locked_row(session: Session, account: StaffAccount | None) -> StaffAccount | None:
    """The account re-read and locked until the transaction ends (PostgreSQL: FOR UPDATE).

    Two attempts at once then take turns: both failures are counted, and of two requests with
    the same code only the first is accepted. On SQLite the caller's write transaction
    (:func:`troth.store.write_scope`) already holds the database's one write lock.
    """
    if account is None:
        return None
    return session.get(StaffAccount, account.id, with_for_update=True, populate_existing=True)


def _account_of(session: Session, token: str) -> StaffAccount | None:
    row = session.get(StaffSession, token_hash(token))
    return None if row is None else session.get(StaffAccount, row.account_id)


def _refusal(account: StaffAccount, now: datetime) -> str | None:
    if account.disabled_at is not None:
        return "disabled"
    if is_locked(account, now):
        return "locked"
    return None


def _record_failure(
    session: Session, account: StaffAccount, *, now: datetime, step: str, reason: str | None
) -> bool:
    """Count a failure and record it; lock the account at the fifth. True if it locked now."""
    if reason not in ("locked", "disabled"):
        window_open = (
            account.failures_since is not None and now - account.failures_since < LOCKOUT_WINDOW
        )
        if not window_open:
            account.failures_since = now
            account.failed_attempts = 0
        account.failed_attempts += 1
    session.flush()
    record_event(
        session,
        actor=Actor.staff(account.id),
        action="staff.sign_in_failed",
        details={"staff_id": account.id, "step": step, "reason": reason or "refused"},
        now=now,
    )
    if account.failed_attempts < MAX_FAILURES or reason in ("locked", "disabled"):
        return False
    account.locked_until = now + LOCKOUT_DURATION
    account.failed_attempts = 0
    account.failures_since = None
    session.flush()
    record_event(
        session,
        actor=Actor.staff(account.id),
        action="staff.locked",
        details={"staff_id": account.id, "minutes": int(LOCKOUT_DURATION.total_seconds() // 60)},
        now=now,
    )
    return True
