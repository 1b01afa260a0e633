"""Email verification: a person proves they control an address before troth shows or changes
anything that belongs to it (P15).

:func:`start_verification` emails a six-digit code and a link; either one proves control, once,
for fifteen minutes. A code allows five wrong tries, then it is dead. Each address may start five
verifications an hour and each client network address twenty, counted in the database so that
every worker sees the same count. The code, the link's token, the address and the client's
network address are stored only as keyed hashes (a subkey of the master key kept for this), and
the address itself sealed under another subkey until the verification is used; rows leave the
table once they are older than the hour the rate limits look back on.

No answer tells whether troth knows the address. Starting does not look the address up at all:
the same rows are written, the same email is sent (to an address troth has never seen, too) and
the same audit events are recorded, in the same order, whoever asks. Only a verification that
succeeds resolves the address to its subject, creating the subject then if there was none. A
person who verifies an address troth did not know therefore gets a subject with no consents, which
is what the privacy center then shows them.

This module sends its email through the outbox (``troth.notify``), in the caller's transaction.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from troth.audit import Actor, record_event

from .identities import IdentityKind, normalise
from .keys import Keyring, TamperedError, decrypt, encrypt
from .models import EmailVerification
from .registry import resolve_subject

LIFETIME = timedelta(minutes=15)
MAX_ATTEMPTS = 5
RATE_WINDOW = timedelta(hours=1)
STARTS_PER_ADDRESS = 5
STARTS_PER_CLIENT = 20
CODE_DIGITS = 6
TEMPLATE = "email_verification"
ACTOR = Actor.system("troth.verification")
MAX_TOKEN = 100

# pg_advisory_xact_lock class for "starts of one address" (the audit chain's lock is 7467244).
_START_LOCK_CLASS = 7467245
_PURPOSE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,100}")
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CODE = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")


class VerificationError(Exception):
    """A verification that cannot be started; the message holds no personal data."""


class TooManyStarts(VerificationError):
    """The address (or the client) started as many verifications as an hour allows."""

    def __init__(self, scope: Literal["address", "client"], retry_after: timedelta) -> None:
        who = "this address" if scope == "address" else "this network address"
        super().__init__(f"too many codes were requested for {who}; try again later")
        self.scope = scope
        self.retry_after = retry_after


class Refusal(StrEnum):
    """Why a code or link did not verify."""

    wrong_code = "wrong_code"  # counted; ``attempts_left`` says how many remain
    no_attempts_left = "no_attempts_left"  # the code had its five tries
    expired = "expired"
    used = "used"
    unknown = "unknown"  # no such verification, or a link troth did not send


@dataclass(frozen=True)
class VerificationStarted:
    verification_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Verified:
    """The address was proven: the subject it belongs to (``created`` if it is new)."""

    subject_id: str
    created: bool
    verification_id: str
    purpose: str
    method: Literal["code", "link"]


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    attempts_left: int = 0


Outcome = Verified | Refused


def start_verification(
    session: Session,
    keyring: Keyring,
    email: str,
    purpose: str,
    client_ip: str,
    now: datetime,
    *,
    link_prefix: str,
    organization: str,
    policy_version: str | None = None,
) -> VerificationStarted:
    """Email a code and a link proving control of ``email``, in the caller's transaction.

    ``purpose`` names what the verification is for (``center``), ``client_ip`` who asked (kept
    only as a keyed hash). The link is ``link_prefix`` followed by the token. Raises
    IdentityError for an address that does not normalise, :class:`TooManyStarts` over a rate
    limit (the same for every address, known or not). Writes ``verification.started``.
    """
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError("verification purpose must be a lower-case name of at most 32 characters")
    address = normalise(IdentityKind.email, email)
    address_hashes = keyring.verification_hashes("address", address)
    client_hashes = keyring.verification_hashes("client", client_ip)
    _lock_address(session, address_hashes[0])
    _forget_old(session, now)
    _check_rate(session, EmailVerification.address_hash, address_hashes, now, "address")
    _check_rate(session, EmailVerification.client_hash, client_hashes, now, "client")

    verification_id = str(uuid.uuid4())
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    token = secrets.token_urlsafe(32)
    current = keyring.current
    row = EmailVerification(
        id=verification_id,
        purpose=purpose,
        address_hash=address_hashes[0],
        client_hash=client_hashes[0],
        address=encrypt(current.verification_seal(), address.encode(), _sealed(verification_id)),
        code_hash=current.verification_hash("code", _code_message(verification_id, code)),
        link_hash=current.verification_hash("link", token),
        attempts=0,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    session.flush()
    # Imported here: troth.notify builds on troth.subjects, so its import cannot come first.
    from troth.notify import enqueue

    enqueue(
        session,
        keyring=keyring,
        to=address,
        template=TEMPLATE,
        context={
            "organization": organization,
            "code": code,
            "verify_url": f"{link_prefix}{token}",
            "minutes": int(LIFETIME.total_seconds() // 60),
        },
        now=now,
        actor=ACTOR,
        policy_version=policy_version,
    )
    record_event(
        session,
        actor=ACTOR,
        action="verification.started",
        policy_version=policy_version,
        details={"verification_id": verification_id, "purpose": purpose},
        now=now,
    )
    return VerificationStarted(verification_id, row.expires_at)


def check_code(
    session: Session,
    keyring: Keyring,
    verification_id: str,
    code: str,
    now: datetime,
    *,
    policy_version: str | None = None,
) -> Outcome:
    """Check a typed code against verification ``verification_id``.

    A wrong code counts against the verification's five tries (``verification.failed``); the
    caller commits it like a success. The right one returns the address's subject, resolved (or
    created) now (``verification.succeeded``).
    """
    row = None
    if _ID.fullmatch(verification_id):
        row = _locked(
            session, select(EmailVerification).where(EmailVerification.id == verification_id)
        )
    refusal = _refusal(row, now)
    if refusal is not None or row is None:
        return refusal or Refused(Refusal.unknown)
    typed = "".join(code.split())
    presented = keyring.verification_hashes("code", _code_message(row.id, typed))
    if not (_CODE.fullmatch(typed) and any(_same(h, row.code_hash) for h in presented)):
        row.attempts += 1
        session.flush()
        record_event(
            session,
            actor=ACTOR,
            action="verification.failed",
            policy_version=policy_version,
            details={"verification_id": row.id, "attempts": row.attempts},
            now=now,
        )
        return Refused(Refusal.wrong_code, max(0, MAX_ATTEMPTS - row.attempts))
    return _complete(session, keyring, row, "code", now, policy_version)


def check_link(
    session: Session,
    keyring: Keyring,
    token: str,
    now: datetime,
    *,
    policy_version: str | None = None,
) -> Outcome:
    """Check the token of an emailed link; the right one returns the address's subject."""
    if not _TOKEN.fullmatch(token):
        return Refused(Refusal.unknown)
    hashes = keyring.verification_hashes("link", token)
    row = _locked(session, select(EmailVerification).where(EmailVerification.link_hash.in_(hashes)))
    refusal = _refusal(row, now)
    if refusal is not None or row is None:
        return refusal or Refused(Refusal.unknown)
    return _complete(session, keyring, row, "link", now, policy_version)


def peek_link(session: Session, keyring: Keyring, token: str, now: datetime) -> Refused | None:
    """Why the link's token would be refused now, or None if it would verify; changes nothing
    (a page shows this before the person confirms, since mail scanners open links too)."""
    if not _TOKEN.fullmatch(token):
        return Refused(Refusal.unknown)
    hashes = keyring.verification_hashes("link", token)
    row = session.scalar(select(EmailVerification).where(EmailVerification.link_hash.in_(hashes)))
    return _refusal(row, now)


def _complete(
    session: Session,
    keyring: Keyring,
    row: EmailVerification,
    method: Literal["code", "link"],
    now: datetime,
    policy_version: str | None,
) -> Verified:
    address = _unseal(keyring, row)
    row.used_at = now
    row.address = b""  # proven: the address is no longer needed here
    session.flush()
    subject, created = resolve_subject(
        session,
        keyring,
        IdentityKind.email,
        address,
        now=now,
        actor=ACTOR,
        policy_version=policy_version,
    )
    record_event(
        session,
        actor=Actor.subject(subject.id),
        action="verification.succeeded",
        subject_id=subject.id,
        policy_version=policy_version,
        details={"verification_id": row.id, "purpose": row.purpose, "method": method},
        now=now,
    )
    return Verified(subject.id, created, row.id, row.purpose, method)


def _refusal(row: EmailVerification | None, now: datetime) -> Refused | None:
    if row is None:
        return Refused(Refusal.unknown)
    if row.used_at is not None:
        return Refused(Refusal.used)
    if now >= row.expires_at:
        return Refused(Refusal.expired)
    if row.attempts >= MAX_ATTEMPTS:
        return Refused(Refusal.no_attempts_left)
    return None


def _locked(session: Session, query: Select[EmailVerification]) -> EmailVerification | None:
    """The row, locked against a concurrent check on PostgreSQL (SQLite's writers take turns)."""
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    found: EmailVerification | None = session.scalar(query)
    return found


def _lock_address(session: Session, address_hash: str) -> None:
    """Serialise starts for one address, so that two at once cannot both pass the limit."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        key = int(address_hash[:8], 16) - 2**31
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :key)"),
            {"cls": _START_LOCK_CLASS, "key": key},
        )
    elif dialect == "sqlite":
        session.execute(text("UPDATE email_verifications SET attempts = attempts WHERE 0"))


def _forget_old(session: Session, now: datetime) -> None:
    """Delete rows the rate limits no longer look at; they have no other use."""
    old = session.execute(
        delete(EmailVerification).where(EmailVerification.created_at < now - RATE_WINDOW)
    )
    removed = getattr(old, "rowcount", 0) or 0
    if removed:
        record_event(
            session,
            actor=ACTOR,
            action="verification.forgotten",
            details={"verifications": removed},
            now=now,
        )


def _check_rate(
    session: Session,
    column: InstrumentedAttribute[str],
    hashes: list[str],
    now: datetime,
    scope: Literal["address", "client"],
) -> None:
    limit = STARTS_PER_ADDRESS if scope == "address" else STARTS_PER_CLIENT
    since = now - RATE_WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(EmailVerification.created_at)).where(
            column.in_(hashes), EmailVerification.created_at > since
        )
    ).one()
    if count >= limit:
        raise TooManyStarts(scope, max(timedelta(seconds=1), oldest + RATE_WINDOW - now))


def _code_message(verification_id: str, code: str) -> str:
    # The id in the hash: a code's hash says nothing about another verification's code.
    return f"{verification_id}:{code}"


def _sealed(verification_id: str) -> bytes:
    return f"troth.verification\x00{verification_id}".encode()


def _unseal(keyring: Keyring, row: EmailVerification) -> str:
    for key in keyring.keys.values():
        try:
            return decrypt(key.verification_seal(), row.address, _sealed(row.id)).decode()
        except TamperedError:
            continue
    raise TamperedError(f"verification {row.id}: its address does not open under a loaded key")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
