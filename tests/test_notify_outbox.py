"""Enqueueing mail: in the caller's transaction, rendered, and encrypted at rest."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from consent_support import EMAIL, NOW, STAFF, assert_audit_chain_clean, audit_events
from jinja2 import UndefinedError
from notify_support import NOBODY, REVIEW, database_bytes
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from troth.notify import (
    MessageStatus,
    OutboxMessage,
    UnknownTemplate,
    enqueue,
    open_message,
    render_message,
    template_names,
)
from troth.store import make_engine, upgrade
from troth.subjects import IdentityError, Keyring, MasterKey, TamperedError


def queue(session: Session, keyring: Keyring, to: str = EMAIL, **options: object) -> str:
    row = enqueue(
        session,
        keyring=keyring,
        to=to,
        template="publication_review",
        context=REVIEW,
        now=NOW,
        actor=STAFF,
        **options,  # type: ignore[arg-type]
    )
    return row.id


def count_messages(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def test_a_message_for_a_subject_is_stored_encrypted_under_their_key(
    sessions: sessionmaker[Session], keyring: Keyring, subject: str
) -> None:
    with sessions.begin() as session:
        message_id = queue(session, keyring, subject_id=subject)
    with sessions() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        assert (row.status, row.attempts, row.subject_id) == (MessageStatus.pending, 0, subject)
        assert row.next_attempt_at == NOW and row.claimed_until is None
        assert EMAIL.encode() not in row.recipient
        assert b"Fast answers" not in row.content
        envelope = open_message(session, keyring, row)
        assert envelope.to == EMAIL
        assert envelope.message.subject == (
            "Please review your testimonial before Kestrel Software publishes it"
        )
        assert REVIEW["review_url"] in envelope.message.text
        assert envelope.message.html is not None
        assert REVIEW["review_url"] in envelope.message.html
        [event] = audit_events(session, "mail.queued")
        assert event.subject_id == subject
        assert event.details == {"message_id": message_id, "template": "publication_review"}
        assert_audit_chain_clean(session, [EMAIL, "Fast answers"])


def test_a_message_without_a_subject_is_under_the_outbox_key_of_the_master_key(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as session:
        message_id = queue(session, keyring, to=NOBODY)
    with sessions() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None and row.subject_id is None
        assert open_message(session, keyring, row).to == NOBODY
        # After a rotation, the previous key still opens it.
        rotated = Keyring(MasterKey.generate(), previous=[keyring.current])
        assert open_message(session, rotated, row).to == NOBODY
        with pytest.raises(TamperedError, match="any loaded master key"):
            open_message(session, Keyring(MasterKey.generate()), row)


def test_a_ciphertext_moved_to_another_row_does_not_open(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as session:
        first, second = queue(session, keyring, to=NOBODY), queue(session, keyring, to=NOBODY)
    with sessions.begin() as session:
        rows = {row.id: row for row in session.scalars(select(OutboxMessage))}
        rows[second].recipient = rows[first].recipient
    with sessions() as session, pytest.raises(TamperedError):
        row = session.get(OutboxMessage, second)
        assert row is not None
        open_message(session, keyring, row)


def test_a_message_exists_only_if_the_callers_transaction_commits(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with pytest.raises(RuntimeError, match="the caller failed"), sessions.begin() as session:
        queue(session, keyring, to=NOBODY)
        raise RuntimeError("the caller failed after enqueueing")
    assert count_messages(sessions) == 0
    with sessions() as session:
        assert audit_events(session, "mail.queued") == []


def test_the_address_is_normalised_and_a_bad_one_is_refused_without_echo(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with sessions.begin() as session:
        message_id = queue(session, keyring, to="  Walk-In.Visitor@EXAMPLE.net ")
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        assert open_message(session, keyring, row).to == NOBODY
    with sessions.begin() as session, pytest.raises(IdentityError) as raised:
        queue(session, keyring, to="not-an-address")
    assert "not-an-address" not in str(raised.value)


def test_unknown_templates_and_missing_variables_are_errors() -> None:
    assert {"publication_review", "publication_approved"} <= set(template_names())
    with pytest.raises(UnknownTemplate, match="publication_review"):
        render_message("no_such_message", {})
    with pytest.raises(UnknownTemplate):
        render_message("../publication_review", {})
    with pytest.raises(UndefinedError, match="review_url"):
        render_message("publication_review", {k: v for k, v in REVIEW.items() if k != "review_url"})


def test_a_subject_line_stays_one_line_whatever_the_context_holds() -> None:
    rendered = render_message(
        "publication_review", REVIEW | {"organization": "Kestrel\r\nBcc: all@example.com"}
    )
    assert "\n" not in rendered.subject and "\r" not in rendered.subject


def test_the_html_part_escapes_what_the_context_holds() -> None:
    rendered = render_message("publication_review", REVIEW | {"title": "<script>x</script>"})
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>x</script>" in rendered.text  # plain text is not HTML


def test_the_address_is_absent_from_the_database_files_and_logs(
    keyring: Keyring, caplog: pytest.LogCaptureFixture, sqlite_engine: Engine
) -> None:
    caplog.set_level(logging.DEBUG, logger="troth")
    sessions = sessionmaker(sqlite_engine)
    with sessions.begin() as session:
        queue(session, keyring, to=NOBODY)
    raw = database_bytes(sqlite_engine)
    assert b"outbox_messages" in raw  # the table is there to be searched
    assert NOBODY.encode() not in raw
    assert b"Fast answers" not in raw
    assert all(NOBODY not in record.getMessage() for record in caplog.records)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'mail.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()
