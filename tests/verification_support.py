"""What the verification tests share: starting one, and reading its code and link from the
outbox the way the recipient would read the email."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import AuditEvent
from troth.notify import OutboxMessage, open_message
from troth.store import write_scope
from troth.subjects import Keyring
from troth.subjects.verification import VerificationStarted, start_verification

LINK_PREFIX = "https://privacy.kestrel.example/center/verify/"
CLIENT = "203.0.113.7"
CODE = re.compile(r"^\s+([0-9]{6})$", re.M)


def start(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    email: str,
    now: datetime,
    client: str = CLIENT,
) -> VerificationStarted:
    with write_scope(sessions) as session:
        return start_verification(
            session,
            keyring,
            email,
            "center",
            client,
            now,
            link_prefix=LINK_PREFIX,
            organization="Kestrel Software",
            policy_version="3.0",
        )


def emails(session: Session, keyring: Keyring) -> list[tuple[str, str, str]]:
    """Every verification email as (recipient, code, link token), in the order queued (the
    audit trail's order: several can share one moment of the test's clock)."""
    queued = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "mail.queued").order_by(AuditEvent.seq)
    ).all()
    found = []
    for event in queued:
        message = session.get(OutboxMessage, event.details["message_id"])
        assert message is not None
        if message.template != "email_verification":
            continue
        envelope = open_message(session, keyring, message)
        [code] = CODE.findall(envelope.message.text)
        [token] = re.findall(r"/center/verify/([A-Za-z0-9_-]+)", envelope.message.text)
        found.append((envelope.to, code, token))
    return found


def newest_email(session: Session, keyring: Keyring) -> tuple[str, str, str]:
    """The recipient, code and link token of the newest verification email."""
    return emails(session, keyring)[-1]
