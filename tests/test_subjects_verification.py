"""P15: an email code or link proves control of an address; guessing, replaying, waiting and
asking about other people's addresses all fail."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from apikey_support import database_text
from consent_support import NOW, Clock
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from verification_support import CLIENT, emails, newest_email, start

from troth.audit import Actor, AuditEvent, verify_chain
from troth.store import write_scope
from troth.subjects import IdentityError, Keyring
from troth.subjects.models import EmailVerification, Subject
from troth.subjects.registry import find_subject, resolve_subject
from troth.subjects.verification import (
    LIFETIME,
    MAX_ATTEMPTS,
    STARTS_PER_ADDRESS,
    STARTS_PER_CLIENT,
    Outcome,
    Refusal,
    Refused,
    TooManyStarts,
    Verified,
    check_code,
    check_link,
)

KNOWN = "meera.k@example.in"
UNKNOWN = "new.reader@example.org"


def code_check(
    sessions: sessionmaker[Session], keyring: Keyring, vid: str, code: str, now: datetime
) -> Outcome:
    with write_scope(sessions) as session:
        return check_code(session, keyring, vid, code, now, policy_version="3.0")


def link_check(
    sessions: sessionmaker[Session], keyring: Keyring, token: str, now: datetime
) -> Outcome:
    with write_scope(sessions) as session:
        return check_link(session, keyring, token, now, policy_version="3.0")


def read_email(sessions: sessionmaker[Session], keyring: Keyring) -> tuple[str, str, str]:
    with sessions() as session:
        return newest_email(session, keyring)


def wrong(code: str) -> list[str]:
    """Guesses that are certainly not ``code``."""
    return [f"{(int(code) + step) % 10**6:06d}" for step in range(1, 100)]


def test_the_code_verifies_once_and_creates_the_subject_only_then(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    started = start(sessions, keyring, "  New.Reader@Example.org ", NOW)
    assert started.expires_at == NOW + LIFETIME
    with sessions() as session:
        assert find_subject(session, keyring, "email", UNKNOWN) is None
    to, code, _ = read_email(sessions, keyring)
    assert to == UNKNOWN  # normalised

    outcome = code_check(sessions, keyring, started.verification_id, f"{code[:3]} {code[3:]}", NOW)
    assert isinstance(outcome, Verified)
    assert outcome.created and outcome.method == "code" and outcome.purpose == "center"
    with sessions() as session:
        found = find_subject(session, keyring, "email", UNKNOWN)
        assert found is not None and found.id == outcome.subject_id

    again = code_check(sessions, keyring, started.verification_id, code, NOW)
    assert again == Refused(Refusal.used)


def test_the_link_verifies_a_known_address_once_and_uses_up_the_code(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with write_scope(sessions) as session:
        subject, _ = resolve_subject(
            session, keyring, "email", KNOWN, now=NOW, actor=Actor.system("test")
        )
    started = start(sessions, keyring, KNOWN, NOW)
    _, code, token = read_email(sessions, keyring)
    outcome = link_check(sessions, keyring, token, NOW + timedelta(minutes=1))
    assert isinstance(outcome, Verified)
    assert (outcome.subject_id, outcome.created, outcome.method) == (subject.id, False, "link")
    assert link_check(sessions, keyring, token, NOW) == Refused(Refusal.used)
    assert code_check(sessions, keyring, started.verification_id, code, NOW) == Refused(
        Refusal.used
    )
    assert link_check(sessions, keyring, token[:-2] + "xy", NOW) == Refused(Refusal.unknown)
    assert link_check(sessions, keyring, "not a token", NOW) == Refused(Refusal.unknown)


def test_five_wrong_codes_kill_the_code(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    started = start(sessions, keyring, KNOWN, NOW)
    _, code, _ = read_email(sessions, keyring)
    for attempt, guess in enumerate(wrong(code)[:MAX_ATTEMPTS], start=1):
        outcome = code_check(sessions, keyring, started.verification_id, guess, NOW)
        assert outcome == Refused(Refusal.wrong_code, MAX_ATTEMPTS - attempt)
    # The right code, after five wrong ones, no longer works; nor does anything else.
    assert code_check(sessions, keyring, started.verification_id, code, NOW) == Refused(
        Refusal.no_attempts_left
    )
    # Malformed input counts as a wrong try, too, and never as a crash.
    other = start(sessions, keyring, KNOWN, NOW)
    assert code_check(sessions, keyring, other.verification_id, "12ab56", NOW) == Refused(
        Refusal.wrong_code, MAX_ATTEMPTS - 1
    )
    assert code_check(sessions, keyring, "not-an-id", code, NOW) == Refused(Refusal.unknown)
    with sessions() as session:
        failed = session.scalar(
            select(func.count()).where(AuditEvent.action == "verification.failed")
        )
    assert failed == MAX_ATTEMPTS + 1


def test_brute_force_within_the_limits_fails(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    """An attacker who keeps asking for codes and guessing gets five codes an hour, five
    guesses each, and then no new code: 25 guesses of a million, none of them right."""
    clock = Clock()
    guesses = 0
    for _ in range(STARTS_PER_ADDRESS):
        started = start(sessions, keyring, KNOWN, clock())
        _, code, _ = read_email(sessions, keyring)
        for guess in wrong(code)[: MAX_ATTEMPTS + 3]:
            outcome = code_check(sessions, keyring, started.verification_id, guess, clock())
            assert isinstance(outcome, Refused)
            guesses += outcome.reason is Refusal.wrong_code
        clock.advance(timedelta(minutes=1))
    assert guesses == STARTS_PER_ADDRESS * MAX_ATTEMPTS
    with pytest.raises(TooManyStarts) as refused:
        start(sessions, keyring, KNOWN, clock())
    assert refused.value.scope == "address"
    assert timedelta(0) < refused.value.retry_after <= timedelta(hours=1)
    assert KNOWN not in str(refused.value)
    # An hour after the first start, one more code may be asked for.
    clock.now = NOW + timedelta(hours=1)
    start(sessions, keyring, KNOWN, clock())
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Subject)) == 0


def test_one_client_can_start_only_so_many_verifications(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    for number in range(STARTS_PER_CLIENT):
        start(sessions, keyring, f"reader{number}@example.org", NOW)
    with pytest.raises(TooManyStarts) as refused:
        start(sessions, keyring, "one.more@example.org", NOW)
    assert refused.value.scope == "client"
    start(sessions, keyring, "one.more@example.org", NOW, client="198.51.100.20")


def test_code_and_link_expire_after_fifteen_minutes(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    first = start(sessions, keyring, KNOWN, NOW)
    _, code, token = read_email(sessions, keyring)
    late = NOW + LIFETIME
    assert code_check(sessions, keyring, first.verification_id, code, late) == Refused(
        Refusal.expired
    )
    assert link_check(sessions, keyring, token, late) == Refused(Refusal.expired)
    second = start(sessions, keyring, KNOWN, NOW)
    _, code, _ = read_email(sessions, keyring)
    just_in_time = NOW + LIFETIME - timedelta(seconds=1)
    outcome = code_check(sessions, keyring, second.verification_id, code, just_in_time)
    assert isinstance(outcome, Verified)


def test_old_verifications_are_forgotten(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    start(sessions, keyring, KNOWN, NOW)
    start(sessions, keyring, UNKNOWN, NOW + timedelta(hours=2))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(EmailVerification)) == 1
        [forgotten] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "verification.forgotten")
        ).all()
        assert forgotten.details == {"verifications": 1}


def test_a_malformed_address_names_no_value(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with pytest.raises(IdentityError) as refused:
        start(sessions, keyring, "no-at-sign.example.org", NOW)
    assert "no-at-sign" not in str(refused.value)


def trail(session: Session) -> list[tuple[str, str, str | None, list[str]]]:
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    return [(e.action, e.actor_id, e.subject_id, sorted(e.details)) for e in events]


def test_starting_says_nothing_about_whether_the_address_is_known(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    with write_scope(sessions) as session:
        resolve_subject(session, keyring, "email", KNOWN, now=NOW, actor=Actor.system("test"))
    with sessions() as session:
        before = len(trail(session))
    known = start(sessions, keyring, KNOWN, NOW)
    with sessions() as session:
        after_known = trail(session)[before:]
    unknown = start(sessions, keyring, UNKNOWN, NOW)
    with sessions() as session:
        after_unknown = trail(session)[before + len(after_known) :]
        sent = emails(session, keyring)
        assert session.scalar(select(func.count()).select_from(Subject)) == 1
    # The same events, by the same actor, with the same kinds of detail, in the same order.
    assert after_known == after_unknown
    assert [a for a, *_ in after_known] == ["mail.queued", "verification.started"]
    assert known.expires_at == unknown.expires_at
    # Both addresses got the same email, bar the code and the link.
    assert [to for to, _, _ in sent] == [KNOWN, UNKNOWN]


def test_nothing_readable_is_stored(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    started = start(sessions, keyring, KNOWN, NOW)
    _, code, token = read_email(sessions, keyring)
    code_check(sessions, keyring, started.verification_id, wrong(code)[0], NOW)
    stored = database_text(sessions.kw["bind"])
    for value in (KNOWN, CLIENT, code, token):
        assert value not in stored
    outcome = code_check(sessions, keyring, started.verification_id, code, NOW)
    assert isinstance(outcome, Verified)
    with sessions() as session:
        row = session.get(EmailVerification, started.verification_id)
        assert row is not None and row.address == b"" and row.used_at == NOW
        result = verify_chain(session)
    assert result.ok, result.message
