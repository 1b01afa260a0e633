"""Send what is due: claim messages under a lease, send each, record what happened.

One pass (:func:`deliver_due`) claims up to ``limit`` pending messages that are due, in one short
transaction: on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so concurrent workers claim disjoint
messages; on SQLite under the database's write lock, so they claim one after the other. A claim
is a lease (``claimed_until``) with its own id; a worker that crashed leaves its messages to be
claimed again once the lease has run out. The claim is a lock, not a fact about the message, and
is not audited; each outcome is: ``mail.sent``, ``mail.deferred`` (tried again later, after an
exponentially growing wait) and ``mail.failed`` (a permanent refusal, or the last attempt).

A message marked sent is never claimed again, and an outcome is recorded only under the claim
that sent it. Delivery is still at least once, not exactly once: if the process dies after the
SMTP server accepted a message and before the mark is committed, or a send outlasts its lease and
another worker claims the message meanwhile, the message is sent again. The lease (five minutes)
is kept well above the SMTP timeout (thirty seconds) so that only a crash leads to a repeat.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor, record_event
from troth.store import write_scope
from troth.subjects import Keyring, KeyringError
from troth.subjects.registry import SubjectError

from .models import MessageStatus, OutboxMessage
from .outbox import Envelope, open_message
from .sender import sender_domain
from .transports import DeliveryError, Transport

log = logging.getLogger(__name__)

DELIVERY_ACTOR = Actor.system("troth.mail.delivery")
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_BATCH = 50
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass did: messages sent, put off to try again, and given up on."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0

    @property
    def claimed(self) -> int:
        return self.sent + self.deferred + self.failed


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 1, 2, 4, … minutes, at most 6 h."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def deliver_due(
    sessions: sessionmaker[Session],
    transport: Transport,
    now: datetime,
    *,
    keyring: Keyring,
    sender: str,
    limit: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
    max_attempts: int = MAX_ATTEMPTS,
) -> DeliveryReport:
    """Claim up to ``limit`` due messages and send each through ``transport`` from ``sender``."""
    claim, message_ids = _claim(sessions, now, limit, lease)
    sent = deferred = failed = 0
    for message_id in message_ids:
        outcome = _deliver_one(
            sessions, transport, now, keyring, sender, claim, message_id, max_attempts
        )
        sent += outcome == MessageStatus.sent
        failed += outcome == MessageStatus.failed
        deferred += outcome == MessageStatus.pending
    return DeliveryReport(sent=sent, deferred=deferred, failed=failed)


def _claim(
    sessions: sessionmaker[Session], now: datetime, limit: int, lease: timedelta
) -> tuple[str, list[str]]:
    claim = str(uuid.uuid4())
    due = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == MessageStatus.pending.value,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    # A look first, without locking: most passes find nothing, and on SQLite taking the write
    # lock every few seconds for nothing would make the API's writers wait.
    with sessions() as session:
        if session.scalar(due.with_only_columns(OutboxMessage.id)) is None:
            return claim, []
    with write_scope(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows = session.scalars(due).all()
        for row in rows:
            row.claimed_until = now + lease
            row.claim = claim
        return claim, [row.id for row in rows]


def _deliver_one(
    sessions: sessionmaker[Session],
    transport: Transport,
    now: datetime,
    keyring: Keyring,
    sender: str,
    claim: str,
    message_id: str,
    max_attempts: int,
) -> MessageStatus:
    reason = ""
    with sessions() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None  # claimed a moment ago, and rows are never deleted
        try:
            envelope = open_message(session, keyring, row)
        except (SubjectError, KeyringError) as exc:
            # The subject was erased (its key is gone) or the row was altered: no retry helps.
            reason = f"cannot be opened ({type(exc).__name__})"
    if reason:
        return _record_failure(sessions, now, claim, message_id, reason, True, max_attempts)
    try:
        transport.send(build_email(envelope, sender, now))
    except DeliveryError as exc:
        return _record_failure(
            sessions, now, claim, message_id, exc.reason, exc.permanent, max_attempts
        )
    return _record_sent(sessions, now, claim, message_id)


def build_email(envelope: Envelope, sender: str, now: datetime) -> EmailMessage:
    """The message as sent: text, and HTML as an alternative when the template has one."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = envelope.to
    email["Subject"] = envelope.message.subject
    email["Date"] = format_datetime(now)
    # The outbox id: a message sent twice (see the module docstring) carries the same one.
    email["Message-ID"] = f"<{envelope.message_id}@{sender_domain(sender)}>"
    email.set_content(envelope.message.text, cte=_transfer_encoding(envelope.message.text))
    if envelope.message.html is not None:
        html = envelope.message.html
        email.add_alternative(html, subtype="html", cte=_transfer_encoding(html))
    return email


def _transfer_encoding(text: str) -> str:
    """Send text as it is when SMTP allows (lines of at most 998 octets): a link stays whole in
    the .eml files of the mail directory and in any mail program, rather than broken across
    quoted-printable lines."""
    if any(len(line.encode()) > 998 for line in text.splitlines()):
        return "quoted-printable"
    return "7bit" if text.isascii() else "8bit"


def _claimed(session: Session, claim: str, message_id: str) -> OutboxMessage | None:
    query = select(OutboxMessage).where(
        OutboxMessage.id == message_id,
        OutboxMessage.claim == claim,
        OutboxMessage.status == MessageStatus.pending.value,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def _record_sent(
    sessions: sessionmaker[Session], now: datetime, claim: str, message_id: str
) -> MessageStatus:
    with write_scope(sessions) as session:
        row = _claimed(session, claim, message_id)
        if row is None:
            log.warning(
                "outbox message %s was sent, but its lease had run out and another worker "
                "claimed it; it may be sent twice",
                message_id,
            )
            return MessageStatus.sent
        row.attempts += 1
        row.status = MessageStatus.sent.value
        row.sent_at = now
        row.claimed_until = row.claim = None
        row.last_error = None
        session.flush()
        _audit(session, row, "mail.sent", now)
    log.info("sent outbox message %s (%s)", message_id, row.template)
    return MessageStatus.sent


def _record_failure(
    sessions: sessionmaker[Session],
    now: datetime,
    claim: str,
    message_id: str,
    reason: str,
    permanent: bool,
    max_attempts: int,
) -> MessageStatus:
    with write_scope(sessions) as session:
        row = _claimed(session, claim, message_id)
        if row is None:
            log.warning(
                "outbox message %s: its lease ran out before the failure was recorded", message_id
            )
            return MessageStatus.pending
        row.attempts += 1
        row.last_error = reason[:200]
        row.claimed_until = row.claim = None
        if permanent or row.attempts >= max_attempts:
            row.status = MessageStatus.failed.value
            row.failed_at = now
            session.flush()
            _audit(session, row, "mail.failed", now, reason=row.last_error)
            log.warning(
                "outbox message %s (%s) failed after %d attempts: %s",
                message_id,
                row.template,
                row.attempts,
                row.last_error,
            )
            return MessageStatus.failed
        row.next_attempt_at = now + retry_delay(row.attempts)
        session.flush()
        _audit(
            session,
            row,
            "mail.deferred",
            now,
            reason=row.last_error,
            next_attempt_at=row.next_attempt_at.isoformat(),
        )
    log.info(
        "outbox message %s (%s) not sent (%s); trying again at %s",
        message_id,
        row.template,
        reason,
        row.next_attempt_at.isoformat(),
    )
    return MessageStatus.pending


def _audit(session: Session, row: OutboxMessage, action: str, now: datetime, **extra: str) -> None:
    record_event(
        session,
        actor=DELIVERY_ACTOR,
        action=action,
        subject_id=row.subject_id,
        details={"message_id": row.id, "template": row.template, "attempts": row.attempts} | extra,
        now=now,
    )


def pending_count(session: Session, statuses: Iterable[str] = ("pending",)) -> int:
    """How many messages are in ``statuses`` (for `troth mail deliver`'s summary)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_(list(statuses)))
        )
        or 0
    )
