"""Delivering the outbox to a real SMTP server on loopback, with retries, leases and failures."""

from __future__ import annotations

import logging
import stat
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from consent_support import EMAIL, NOW, STAFF, assert_audit_chain_clean, audit_events
from notify_support import NOBODY, REVIEW, Inbox, smtp_server
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.notify import (
    DEFAULT_LEASE,
    MAX_ATTEMPTS,
    DeliveryError,
    DirectoryTransport,
    MessageStatus,
    OutboxMessage,
    SMTPTransport,
    deliver_due,
    enqueue,
    retry_delay,
)
from troth.subjects import Keyring

SENDER = "Kestrel Software <hello@kestrel.example>"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SMTPTransport]]:
    with smtp_server() as (inbox, url):
        yield inbox, SMTPTransport.from_url(url)


def queue(
    sessions: sessionmaker[Session], keyring: Keyring, to: str = NOBODY, **options: object
) -> str:
    with sessions.begin() as session:
        return enqueue(
            session,
            keyring=keyring,
            to=to,
            template="publication_review",
            context=REVIEW,
            now=NOW,
            actor=STAFF,
            **options,  # type: ignore[arg-type]
        ).id


def stored(sessions: sessionmaker[Session], message_id: str) -> OutboxMessage:
    with sessions() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


def deliver(
    sessions: sessionmaker[Session], transport: object, keyring: Keyring, now: datetime = NOW
) -> tuple[int, int, int]:
    report = deliver_due(sessions, transport, now, keyring=keyring, sender=SENDER)  # type: ignore[arg-type]
    return report.sent, report.deferred, report.failed


def test_a_message_arrives_with_its_content_and_is_marked_sent(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    subject: str,
    smtp: tuple[Inbox, SMTPTransport],
) -> None:
    inbox, transport = smtp
    message_id = queue(sessions, keyring, to=EMAIL, subject_id=subject)
    assert deliver(sessions, transport, keyring) == (1, 0, 0)
    [received] = inbox.received
    assert received.recipients == [EMAIL]
    assert received.sender == "hello@kestrel.example"
    assert received.message["To"] == EMAIL
    assert received.message["From"] == SENDER
    assert received.message["Subject"] == (
        "Please review your testimonial before Kestrel Software publishes it"
    )
    assert received.message["Message-ID"] == f"<{message_id}@kestrel.example>"
    assert REVIEW["review_url"] in received.text
    assert received.html is not None and REVIEW["review_url"] in received.html
    row = stored(sessions, message_id)
    assert (row.status, row.attempts, row.sent_at, row.claim) == ("sent", 1, NOW, None)
    with sessions() as session:
        [event] = audit_events(session, "mail.sent")
        assert event.subject_id == subject
        assert event.details == {
            "message_id": message_id,
            "template": "publication_review",
            "attempts": 1,
        }
        assert_audit_chain_clean(session, [EMAIL])


def test_a_sent_message_is_never_sent_again(
    sessions: sessionmaker[Session], keyring: Keyring, smtp: tuple[Inbox, SMTPTransport]
) -> None:
    inbox, transport = smtp
    queue(sessions, keyring)
    assert deliver(sessions, transport, keyring) == (1, 0, 0)
    for later in (NOW, NOW + DEFAULT_LEASE, NOW + timedelta(days=30)):
        assert deliver(sessions, transport, keyring, later) == (0, 0, 0)
    assert len(inbox.received) == 1


def test_a_refusing_server_means_retries_with_growing_waits_then_failure(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    smtp: tuple[Inbox, SMTPTransport],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="troth")
    inbox, transport = smtp
    inbox.refuse = "451 4.3.0 Try again later"
    message_id = queue(sessions, keyring)
    now = NOW
    for attempt in range(1, MAX_ATTEMPTS):
        assert deliver(sessions, transport, keyring, now) == (0, 1, 0)
        row = stored(sessions, message_id)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.last_error == "refused (SMTP 451)"
        assert row.next_attempt_at == now + retry_delay(attempt)
        # Not due yet: a pass a moment before the wait is over leaves it alone.
        assert deliver(
            sessions, transport, keyring, row.next_attempt_at - timedelta(seconds=1)
        ) == (
            0,
            0,
            0,
        )
        now = row.next_attempt_at
    assert deliver(sessions, transport, keyring, now) == (0, 0, 1)
    row = stored(sessions, message_id)
    assert (row.status, row.attempts, row.failed_at) == ("failed", MAX_ATTEMPTS, now)
    assert inbox.refused == MAX_ATTEMPTS and inbox.received == []
    # A failed message stays failed, even once the server accepts again.
    inbox.refuse = None
    assert deliver(sessions, transport, keyring, now + timedelta(days=1)) == (0, 0, 0)
    with sessions() as session:
        deferred = audit_events(session, "mail.deferred")
        [failed] = audit_events(session, "mail.failed")
        assert len(deferred) == MAX_ATTEMPTS - 1
        assert failed.details["reason"] == "refused (SMTP 451)"
        assert_audit_chain_clean(session, [NOBODY])
    assert all(NOBODY not in record.getMessage() for record in caplog.records)
    assert any("failed after 8 attempts" in record.getMessage() for record in caplog.records)


def test_the_waits_double_from_a_minute_up_to_six_hours() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert retry_delay(20) == timedelta(hours=6)


def test_a_permanent_refusal_fails_at_once(
    sessions: sessionmaker[Session], keyring: Keyring, smtp: tuple[Inbox, SMTPTransport]
) -> None:
    inbox, transport = smtp
    inbox.refuse = "550 5.1.1 No such mailbox"
    message_id = queue(sessions, keyring)
    assert deliver(sessions, transport, keyring) == (0, 0, 1)
    row = stored(sessions, message_id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "refused (SMTP 550)")


def test_an_unreachable_server_is_retried(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with smtp_server() as (_inbox, url):
        transport = SMTPTransport.from_url(url)
    # The server is stopped: nothing listens on its port any more.
    message_id = queue(sessions, keyring)
    assert deliver(sessions, transport, keyring) == (0, 1, 0)
    assert stored(sessions, message_id).last_error == (
        "could not reach the server (ConnectionRefusedError)"
    )


def test_a_message_of_an_erased_subject_fails_unread(
    sessions: sessionmaker[Session],
    keyring: Keyring,
    subject: str,
    smtp: tuple[Inbox, SMTPTransport],
) -> None:
    from troth.subjects.models import Subject

    inbox, transport = smtp
    message_id = queue(sessions, keyring, to=EMAIL, subject_id=subject)
    with sessions.begin() as session:
        row = session.get(Subject, subject)
        assert row is not None
        row.wrapped_key = None  # crypto-shredded
    assert deliver(sessions, transport, keyring) == (0, 0, 1)
    assert stored(sessions, message_id).last_error == "cannot be opened (ShreddedSubject)"
    assert inbox.received == []


class CountingTransport:
    """Records every message it is given; optionally crashes instead of returning."""

    description = "a list in memory"

    def __init__(self, crash: bool = False) -> None:
        self.sent: list[str] = []
        self.crash = crash
        self.lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        if self.crash:
            raise KeyboardInterrupt("the worker died mid-send")
        with self.lock:
            self.sent.append(str(message["Message-ID"]))


def test_two_deliverers_at_once_send_each_message_once(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    for _ in range(30):
        queue(sessions, keyring)
    transport = CountingTransport()
    start = threading.Barrier(3)
    sent: list[int] = []

    def worker() -> None:
        start.wait()
        for _ in range(10):
            report = deliver_due(sessions, transport, NOW, keyring=keyring, sender=SENDER, limit=4)
            sent.append(report.sent)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent) == len(transport.sent) == 30
    assert len(set(transport.sent)) == 30, "a message was sent twice"
    with sessions() as session:
        statuses = set(session.scalars(select(OutboxMessage.status)))
    assert statuses == {MessageStatus.sent.value}


def test_a_crashed_deliverers_messages_wait_for_its_lease_to_run_out(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    message_id = queue(sessions, keyring)
    with pytest.raises(KeyboardInterrupt):
        deliver(sessions, CountingTransport(crash=True), keyring)
    row = stored(sessions, message_id)
    assert (row.status, row.claimed_until) == ("pending", NOW + DEFAULT_LEASE)
    survivor = CountingTransport()
    assert deliver(sessions, survivor, keyring, NOW + DEFAULT_LEASE - timedelta(seconds=1)) == (
        0,
        0,
        0,
    )
    assert deliver(sessions, survivor, keyring, NOW + DEFAULT_LEASE) == (1, 0, 0)
    assert survivor.sent == [f"<{message_id}@kestrel.example>"]


def test_the_directory_transport_writes_one_readable_eml_per_message(
    sessions: sessionmaker[Session], keyring: Keyring, tmp_path: Path
) -> None:
    mail = tmp_path / "var" / "mail"
    message_id = queue(sessions, keyring)
    assert deliver(sessions, DirectoryTransport(mail), keyring) == (1, 0, 0)
    [file] = mail.iterdir()
    assert file.name == f"{message_id}_kestrel.example.eml"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    message = message_from_bytes(file.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert message["To"] == NOBODY
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and REVIEW["review_url"] in body.get_content()


def test_the_directory_transport_reports_an_unwritable_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "mail"
    blocker.write_text("a file where the directory should be")
    message = EmailMessage()
    message["Message-ID"] = "<x@example.com>"
    message.set_content("hello")
    with pytest.raises(DeliveryError, match="could not write to the mail directory"):
        DirectoryTransport(blocker).send(message)


def test_links_stay_whole_in_the_eml_file_even_with_accented_words(
    sessions: sessionmaker[Session], keyring: Keyring, tmp_path: Path
) -> None:
    long_link = "https://kestrel.example/publications/review/" + "A" * 180
    with sessions.begin() as session:
        enqueue(
            session,
            keyring=keyring,
            to=NOBODY,
            template="publication_review",
            context=REVIEW | {"review_url": long_link, "title": "Café Müller, Pune"},
            now=NOW,
            actor=STAFF,
        )
    mail = tmp_path / "mail"
    assert deliver(sessions, DirectoryTransport(mail), keyring) == (1, 0, 0)
    [file] = mail.iterdir()
    raw = file.read_bytes()
    assert long_link.encode() in raw  # readable as it is, not quoted-printable
    assert "Café Müller, Pune".encode() in raw


def test_accented_words_arrive_intact_over_smtp(
    sessions: sessionmaker[Session], keyring: Keyring, smtp: tuple[Inbox, SMTPTransport]
) -> None:
    inbox, transport = smtp
    with sessions.begin() as session:
        enqueue(
            session,
            keyring=keyring,
            to=NOBODY,
            template="publication_review",
            context=REVIEW | {"title": "Café Müller, Pune", "organization": "Kestrel Software"},
            now=NOW,
            actor=STAFF,
        )
    assert deliver(sessions, transport, keyring) == (1, 0, 0)
    [received] = inbox.received
    assert "Café Müller, Pune" in received.text
    assert received.html is not None and "Café Müller, Pune" in received.html
