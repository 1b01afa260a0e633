"""Sign-in at the domain level: half and full sessions, idle and absolute expiry, lockout."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from apikey_support import MovingClock
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from staff_support import (
    ADMIN_EMAIL,
    OPERATOR,
    PASSWORD,
    STARTED,
    Member,
    actions,
    code_now,
    make_member,
)

from troth.staff import (
    ABSOLUTE_LIFETIME,
    HALF_SESSION_LIFETIME,
    IDLE_TIMEOUT,
    LOCKOUT_DURATION,
    MAX_FAILURES,
    Opened,
    Role,
    StaffAccount,
    current_session,
    disable_account,
    sign_in_with_code,
    sign_in_with_password,
    sign_out,
)
from troth.store import write_scope
from troth.subjects import Keyring


def password_step(
    sessions: sessionmaker[Session], keyring: Keyring, clock: MovingClock, password: str = PASSWORD
) -> Opened | None:
    with sessions.begin() as session:
        return sign_in_with_password(
            session, keyring, email=ADMIN_EMAIL, password=password, now=clock()
        )


def code_step(
    sessions: sessionmaker[Session], keyring: Keyring, clock: MovingClock, token: str, code: str
) -> Opened | None:
    with sessions.begin() as session:
        return sign_in_with_code(session, keyring, token=token, code=code, now=clock())


def full_session(
    sessions: sessionmaker[Session], keyring: Keyring, clock: MovingClock, member: Member
) -> str:
    half = password_step(sessions, keyring, clock)
    assert half is not None
    full = code_step(sessions, keyring, clock, half.token, code_now(member, clock))
    assert full is not None
    return full.token


def alive(sessions: sessionmaker[Session], token: str, clock: MovingClock) -> bool:
    with sessions.begin() as session:
        return current_session(session, token, now=clock()) is not None


def test_a_password_opens_a_half_session_and_a_code_replaces_it_with_a_full_one(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    half = password_step(sessions, keyring, clock)
    assert half is not None
    with sessions.begin() as session:
        who = current_session(session, half.token, now=clock())
        assert who is not None and not who.verified and who.role is Role.admin
    full = code_step(sessions, keyring, clock, half.token, code_now(member, clock))
    assert full is not None and full.token != half.token
    assert not alive(sessions, half.token, clock)  # the half session's token is spent
    with sessions.begin() as session:
        who = current_session(session, full.token, now=clock())
        assert who is not None and who.verified and who.account_id == member.id
    assert [action for action, *_ in actions(ledger_engine)] == [
        "staff.account_created",
        "staff.password_accepted",
        "staff.totp_enrolled",
        "staff.signed_in",
    ]


def test_a_code_is_not_accepted_twice_even_in_a_new_session(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    code = code_now(member, clock)
    first = password_step(sessions, keyring, clock)
    assert first is not None and code_step(sessions, keyring, clock, first.token, code)
    clock.advance(5)
    second = password_step(sessions, keyring, clock)
    assert second is not None
    assert code_step(sessions, keyring, clock, second.token, code) is None
    clock.advance(30)  # the next step: its own code is accepted
    assert code_step(sessions, keyring, clock, second.token, code_now(member, clock))


def test_a_session_ends_after_thirty_idle_minutes(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    token = full_session(sessions, keyring, clock, member)
    clock.advance(IDLE_TIMEOUT.total_seconds() - 1)
    assert alive(sessions, token, clock)  # a request: the idle clock starts again
    clock.advance(IDLE_TIMEOUT.total_seconds() - 1)
    assert alive(sessions, token, clock)
    clock.advance(IDLE_TIMEOUT.total_seconds())
    assert not alive(sessions, token, clock)
    assert not alive(sessions, token, MovingClock(clock() - IDLE_TIMEOUT))  # ended for good
    expired = [d for a, _, d in actions(ledger_engine) if a == "staff.session_expired"]
    assert expired == [{"staff_id": member.id, "reason": "idle"}]


def test_a_busy_session_still_ends_twelve_hours_after_it_began(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    token = full_session(sessions, keyring, clock, member)
    for _ in range(int(ABSOLUTE_LIFETIME / timedelta(minutes=20)) - 1):
        clock.advance(20 * 60)
        assert alive(sessions, token, clock)
    clock.advance(20 * 60)
    assert not alive(sessions, token, clock)
    expired = [d for a, _, d in actions(ledger_engine) if a == "staff.session_expired"]
    assert expired == [{"staff_id": member.id, "reason": "lifetime"}]


def test_a_half_session_lasts_ten_minutes(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    half = password_step(sessions, keyring, clock)
    assert half is not None
    clock.advance(HALF_SESSION_LIFETIME.total_seconds())
    assert not alive(sessions, half.token, clock)
    assert code_step(sessions, keyring, clock, half.token, code_now(member, clock)) is None


def test_sign_out_and_disabling_end_sessions(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    token = full_session(sessions, keyring, clock, member)
    with sessions.begin() as session:
        assert sign_out(session, token, now=clock())
        assert not sign_out(session, token, now=clock())
    assert not alive(sessions, token, clock)
    clock.advance(60)
    token = full_session(sessions, keyring, clock, member)
    with sessions.begin() as session:
        disable_account(session, keyring, ADMIN_EMAIL, now=clock(), actor=OPERATOR)
    assert not alive(sessions, token, clock)
    assert password_step(sessions, keyring, clock) is None


def test_five_failures_lock_the_account_for_fifteen_minutes(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    for _ in range(MAX_FAILURES - 1):
        assert password_step(sessions, keyring, clock, "wrong password!") is None
        clock.advance(60)
    half = password_step(sessions, keyring, clock)  # the right password, before the fifth
    assert half is not None
    assert code_step(sessions, keyring, clock, half.token, "000000") is None  # the fifth
    assert not alive(sessions, half.token, clock)  # locking ended the half session
    # Locked: even the right password is refused, and refusals do not extend the lock.
    assert password_step(sessions, keyring, clock) is None
    clock.advance(LOCKOUT_DURATION.total_seconds() - 1)
    assert password_step(sessions, keyring, clock) is None
    clock.advance(1)
    token = full_session(sessions, keyring, clock, member)
    assert alive(sessions, token, clock)
    failed = [d for a, _, d in actions(ledger_engine) if a == "staff.sign_in_failed"]
    assert [d["reason"] for d in failed] == ["wrong_password"] * 4 + ["wrong_code"] + ["locked"] * 2
    assert ("staff.locked", member.id, {"staff_id": member.id, "minutes": 15}) in actions(
        ledger_engine
    )


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    for _ in range(2 * MAX_FAILURES):
        assert password_step(sessions, keyring, clock, "wrong password!") is None
        clock.advance(4 * 60)  # four failures in any fifteen minutes, never five
    assert password_step(sessions, keyring, clock) is not None
    with sessions() as session:
        account = session.query(StaffAccount).one()
        assert account.locked_until is None


def test_an_unknown_address_is_recorded_without_it(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    with sessions.begin() as session:
        assert (
            sign_in_with_password(
                session, keyring, email="nobody@example.org", password=PASSWORD, now=clock()
            )
            is None
        )
    assert actions(ledger_engine) == [
        (
            "staff.sign_in_failed",
            "troth.console",
            {"step": "password", "reason": "unknown_account"},
        )
    ]


def test_of_two_requests_at_once_with_one_code_only_one_signs_in(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    clock = MovingClock(STARTED)
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    halves = [password_step(sessions, keyring, clock) for _ in range(2)]
    code = code_now(member, clock)
    start = threading.Barrier(2)

    def give(half: Opened | None) -> bool:
        assert half is not None
        start.wait()
        with write_scope(sessions) as session:
            opened = sign_in_with_code(session, keyring, token=half.token, code=code, now=clock())
            return opened is not None

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(give, halves))
    assert sorted(results) == [False, True]
    signed_in = [a for a, *_ in actions(ledger_engine) if a == "staff.signed_in"]
    assert len(signed_in) == 1
