"""Create, find, list and disable staff accounts.

An account's email address is sealed under the master key and found through a keyed HMAC of
its normalised form; audit events name the account by its id only.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.store import take_sqlite_write_lock
from troth.subjects import IdentityKind, Keyring, normalise

from .models import StaffAccount, StaffSession
from .passwords import check_password_policy, hash_password
from .roles import Role
from .totp import new_secret

MAX_NAME_LENGTH = 100


class StaffAccountExists(ValueError):
    def __init__(self) -> None:
        super().__init__("a staff account with this email address already exists")


class StaffAccountNotFound(LookupError):
    def __init__(self) -> None:
        super().__init__("no staff account has this email address")


def normalised_email(email: str) -> str:
    """The address as troth indexes it; IdentityError (a ValueError) names what is wrong."""
    return normalise(IdentityKind.email, email)


def _email_aad(account_id: str) -> bytes:
    return b"staff email\x00" + account_id.encode("ascii")


def _totp_aad(account_id: str) -> bytes:
    return b"staff totp\x00" + account_id.encode("ascii")


def create_account(
    session: Session,
    keyring: Keyring,
    *,
    email: str,
    role: Role,
    password: str,
    display_name: str = "",
    now: datetime,
    actor: Actor,
) -> StaffAccount:
    """A new account, its TOTP secret made and not yet enrolled; the caller commits.

    Raises :class:`~troth.staff.WeakPassword`, :class:`StaffAccountExists`, or ValueError for an
    unusable address or name. Writes ``staff.account_created`` (the account's id and role).
    """
    _require_aware(now)
    address = normalised_email(email)
    check_password_policy(password)
    name = _checked_name(display_name) or address.split("@", 1)[0]
    # Before the first read: a running server may write meanwhile (see take_sqlite_write_lock).
    take_sqlite_write_lock(session, "staff_accounts")
    lookups = keyring.staff_indexes(address)
    if session.scalar(select(StaffAccount.id).where(StaffAccount.email_lookup.in_(lookups))):
        raise StaffAccountExists()
    account_id = str(uuid.uuid4())
    account = StaffAccount(
        id=account_id,
        email_lookup=keyring.staff_index(address),
        email_ciphertext=keyring.seal_staff(address.encode("utf-8"), _email_aad(account_id)),
        display_name=name,
        role=Role(role).value,
        password_hash=hash_password(password),
        totp_ciphertext=keyring.seal_staff(new_secret(), _totp_aad(account_id)),
        totp_enrolled_at=None,
        totp_last_step=None,
        failed_attempts=0,
        failures_since=None,
        locked_until=None,
        created_at=now,
        disabled_at=None,
    )
    session.add(account)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="staff.account_created",
        details={"staff_id": account_id, "role": account.role},
        now=now,
    )
    return account


def find_account(session: Session, keyring: Keyring, email: str) -> StaffAccount | None:
    """The account with this address (under any loaded master key), or None."""
    try:
        address = normalised_email(email)
    except ValueError:
        return None
    lookups = keyring.staff_indexes(address)
    return session.scalar(select(StaffAccount).where(StaffAccount.email_lookup.in_(lookups)))


def email_of(keyring: Keyring, account: StaffAccount) -> str:
    return keyring.open_staff(account.email_ciphertext, _email_aad(account.id)).decode("utf-8")


def totp_secret_of(keyring: Keyring, account: StaffAccount) -> bytes:
    return keyring.open_staff(account.totp_ciphertext, _totp_aad(account.id))


def list_accounts(session: Session) -> list[StaffAccount]:
    """Every account, disabled ones too, oldest first."""
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.created_at)))


def disable_account(
    session: Session, keyring: Keyring, email: str, *, now: datetime, actor: Actor
) -> tuple[StaffAccount, bool]:
    """Disable the account and end its sessions; ``False`` when it already was disabled.

    Writes ``staff.account_disabled``; raises :class:`StaffAccountNotFound`.
    """
    _require_aware(now)
    take_sqlite_write_lock(session, "staff_accounts")
    account = find_account(session, keyring, email)
    if account is None:
        raise StaffAccountNotFound()
    if account.disabled_at is not None:
        return account, False
    account.disabled_at = now
    ended = session.execute(
        update(StaffSession)
        .where(StaffSession.account_id == account.id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    record_event(
        session,
        actor=actor,
        action="staff.account_disabled",
        details={"staff_id": account.id, "sessions_ended": ended.rowcount},  # type: ignore[attr-defined]
        now=now,
    )
    return account, True


def _checked_name(name: str) -> str:
    cleaned = name.strip()
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(f"a display name is at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(char).startswith("C") for char in cleaned):
        raise ValueError("a display name cannot contain control characters")
    return cleaned


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("staff accounts need a timezone-aware 'now'")
