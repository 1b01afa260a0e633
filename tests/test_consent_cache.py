"""The decision cache: answers from memory, never stale after a commit in this process, and
within a second after a write in another process sharing the database."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from consent_support import NOW, STAFF, Clock, give, new_subject
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from troth.consent import (
    ConsentEvent,
    DecisionCache,
    Reason,
    link_identity,
    record_signal,
    require_renewal,
)
from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker
from troth.subjects import Keyring, new_browser_id
from troth.subjects.registry import resolve_subject

# A write in one process is seen by the others within this long.
WITHIN = 1.0
POLL = 0.05
YEARS_2 = NOW.replace(year=NOW.year + 2)


@pytest.fixture
def sessions(ledger_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(ledger_engine)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(
    kestrel_policy: Policy, sessions: sessionmaker[Session], clock: Clock
) -> Iterator[DecisionCache]:
    decisions = DecisionCache(kestrel_policy, sessions, clock=clock)
    yield decisions
    decisions.close()


@pytest.fixture
def subject(sessions: sessionmaker[Session], keyring: Keyring) -> str:
    with sessions.begin() as session:
        return new_subject(session, keyring)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements ``engine`` runs inside the block."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def eventually(check: Callable[[], bool], within: float = WITHIN) -> float:
    """Seconds until ``check()`` held; fails if it did not within ``within`` seconds."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < within, f"not seen within {within} s"
        time.sleep(0.01)
    return time.monotonic() - start


# In this process ---------------------------------------------------------------------------------


def test_answers_come_from_memory_and_a_commit_invalidates_them_at_once(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    cache: DecisionCache,
    subject: str,
    kestrel_policy: Policy,
) -> None:
    assert cache.allows(subject, "newsletter").reason is Reason.no_consent
    with statements(ledger_engine) as seen:
        for _ in range(100):
            assert not cache.allows(subject, "newsletter")
        assert cache.allows(subject, "billing").reason is Reason.legal_basis
    assert seen == []

    with sessions.begin() as session:
        row = give(session, kestrel_policy, subject, "newsletter")
    decision = cache.allows(subject, "newsletter")
    assert (decision.allowed, decision.reason) == (True, Reason.consent)
    assert (decision.record_id, decision.until) == (row["record_id"], YEARS_2)

    with sessions.begin() as session:
        record_signal(session, kestrel_policy, subject, "restriction", actor=STAFF, now=NOW)
    assert cache.allows(subject, "newsletter").reason is Reason.restricted
    assert cache.allows(subject, "billing").allowed


def test_a_rollback_leaves_the_cache_alone(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    cache: DecisionCache,
    subject: str,
    kestrel_policy: Policy,
) -> None:
    assert not cache.allows(subject, "newsletter")
    with sessions() as session:
        give(session, kestrel_policy, subject, "newsletter")
        session.rollback()
        # The session's next transaction commits something else: the rolled-back write is
        # not announced with it.
        session.execute(text("SELECT 1"))
        session.commit()
    with statements(ledger_engine) as seen:
        assert cache.allows(subject, "newsletter").reason is Reason.no_consent
    assert seen == []


def test_a_savepoint_is_not_a_commit(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    cache: DecisionCache,
    subject: str,
    keyring: Keyring,
    kestrel_policy: Policy,
) -> None:
    assert not cache.allows(subject, "newsletter")
    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
        # The same transaction goes on to create another subject (inside a savepoint)...
        resolve_subject(session, keyring, "email", "second@example.com", now=NOW, actor=STAFF)
        # ...while another request asks about the first: it still sees the committed past.
        assert not cache.allows(subject, "newsletter")
    assert cache.allows(subject, "newsletter").reason is Reason.consent


def test_a_savepoint_rolled_back_does_not_forget_earlier_writes(
    sessions: sessionmaker[Session],
    cache: DecisionCache,
    subject: str,
    kestrel_policy: Policy,
) -> None:
    assert not cache.allows(subject, "newsletter")
    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
        with pytest.raises(RuntimeError), session.begin_nested():
            raise RuntimeError("an optional step fails and is undone")
    assert cache.allows(subject, "newsletter").reason is Reason.consent


def test_every_cache_on_the_sessions_is_invalidated(
    sessions: sessionmaker[Session],
    cache: DecisionCache,
    clock: Clock,
    subject: str,
    kestrel_policy: Policy,
) -> None:
    europe = DecisionCache(kestrel_policy, sessions, clock=clock, jurisdiction="eu-gdpr")
    try:
        assert europe.allows(subject, "answer_inquiries").basis == "legitimate_interest"
        assert cache.allows(subject, "answer_inquiries").basis == "legitimate_use"
        assert not europe.allows(subject, "newsletter")
        assert not cache.allows(subject, "newsletter")
        with sessions.begin() as session:
            give(session, kestrel_policy, subject, "newsletter")
        assert cache.allows(subject, "newsletter")
        assert europe.allows(subject, "newsletter")
    finally:
        europe.close()


def test_consent_expires_when_the_clock_passes_its_expiry(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    cache: DecisionCache,
    clock: Clock,
    subject: str,
    kestrel_policy: Policy,
) -> None:
    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
        give(session, kestrel_policy, subject, "site_analytics", method="cookie_banner")
    assert cache.allows(subject, "newsletter").until == YEARS_2
    six_months = NOW.replace(month=5, year=NOW.year + 1)
    clock.now = six_months - timedelta(seconds=1)
    with statements(ledger_engine) as seen:
        assert cache.allows(subject, "site_analytics")
    assert seen == []
    clock.now = six_months
    assert cache.allows(subject, "site_analytics").reason is Reason.consent_expired
    assert cache.allows(subject, "newsletter")
    clock.now = YEARS_2
    assert cache.allows(subject, "newsletter").reason is Reason.consent_expired


def test_unknown_subjects_and_undeclared_purposes(cache: DecisionCache, subject: str) -> None:
    stranger = "5b0e7c1e-0000-4000-8000-000000000000"
    assert cache.allows(stranger, "newsletter").reason is Reason.no_consent
    assert cache.allows(stranger, "billing").reason is Reason.legal_basis
    for who in (stranger, subject):
        decision = cache.allows(who, "sell_data")
        assert (decision.allowed, decision.reason, decision.purpose) == (
            False,
            Reason.undeclared_purpose,
            "sell_data",
        )
    assert [d.reason for d in cache.decide_many([(subject, "newsletter"), (subject, "x")])] == [
        Reason.no_consent,
        Reason.undeclared_purpose,
    ]


def test_an_alias_of_a_merged_subject_is_invalidated(
    sessions: sessionmaker[Session],
    cache: DecisionCache,
    subject: str,
    keyring: Keyring,
    kestrel_policy: Policy,
) -> None:
    first_browser, second_browser = new_browser_id(), new_browser_id()
    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
        browser = new_subject(session, keyring, first_browser, kind="browser_id")
        older = new_subject(session, keyring, second_browser, kind="browser_id")
    # The older browser id turns out to be the same browser: asked about by its old id, the
    # cache keeps the answer under that id.
    with sessions.begin() as session:
        link_identity(
            session,
            keyring,
            kestrel_policy,
            browser,
            "browser_id",
            second_browser,
            actor=STAFF,
            now=NOW,
        )
    assert cache.allows(older, "newsletter").reason is Reason.no_consent
    assert cache.allows(browser, "newsletter").reason is Reason.no_consent
    # Then the browser signs in as the known subject, who subscribed to the newsletter.
    with sessions.begin() as session:
        link_identity(
            session,
            keyring,
            kestrel_policy,
            subject,
            "browser_id",
            first_browser,
            actor=STAFF,
            now=NOW,
        )
    assert cache.allows(browser, "newsletter").reason is Reason.consent
    assert cache.allows(older, "newsletter").reason is Reason.consent


def test_close_stops_following(sessions: sessionmaker[Session], kestrel_policy: Policy) -> None:
    decisions = DecisionCache(kestrel_policy, sessions, poll_interval=POLL).start()
    thread = decisions._thread
    assert thread is not None and thread.is_alive()
    decisions.close()
    assert not thread.is_alive()
    assert not event.contains(sessions, "after_commit", decisions._after_commit)


# Across processes --------------------------------------------------------------------------------


@pytest.fixture
def other_engine(ledger_engine: Engine) -> Iterator[Engine]:
    """A second engine on the same database, as another server process would have."""
    engine = make_engine(ledger_engine.url)
    yield engine
    engine.dispose()


@pytest.fixture
def follower(kestrel_policy: Policy, sessions: sessionmaker[Session]) -> Iterator[DecisionCache]:
    """A cache following the change feed, on the wall clock as a server's would be."""
    decisions = DecisionCache(kestrel_policy, sessions, poll_interval=POLL).start()
    yield decisions
    decisions.close()


def test_a_write_through_another_engine_is_seen_within_a_second(
    other_engine: Engine,
    follower: DecisionCache,
    subject: str,
    keyring: Keyring,
    kestrel_policy: Policy,
) -> None:
    writer = make_sessionmaker(other_engine)
    assert follower.allows(subject, "newsletter").reason is Reason.no_consent
    with writer.begin() as session:
        give(session, kestrel_policy, subject, "newsletter", now=datetime.now(UTC))
    eventually(lambda: follower.allows(subject, "newsletter").allowed)

    with writer.begin() as session:
        record_signal(
            session, kestrel_policy, subject, "restriction", actor=STAFF, now=datetime.now(UTC)
        )
    eventually(lambda: follower.allows(subject, "newsletter").reason is Reason.restricted)

    # A renewal concerns every subject.
    with writer.begin() as session:
        second = new_subject(session, keyring)
        give(session, kestrel_policy, second, "newsletter", now=datetime.now(UTC))
    assert follower.allows(second, "newsletter").reason is Reason.consent
    with writer.begin() as session:
        require_renewal(session, None, kestrel_policy, datetime.now(UTC), previous_unreadable=True)
    eventually(lambda: follower.allows(second, "newsletter").reason is Reason.renewal_required)


SECOND_PROCESS = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime

    from troth.audit import Actor
    from troth.consent import ConsentInput, record_consents
    from troth.declaration import load_policy
    from troth.store import make_engine, make_sessionmaker

    url, subject_id, declaration = sys.argv[1:]
    policy = load_policy(declaration)
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        record_consents(
            session,
            policy,
            [(subject_id, ConsentInput("newsletter", "given"))],
            actor=Actor.system("other.process"),
            now=datetime.now(UTC),
        )
    print(time.time(), flush=True)
    engine.dispose()
    """
)


def test_a_write_by_another_os_process_is_seen_within_a_second(
    ledger_engine: Engine,
    follower: DecisionCache,
    subject: str,
    tmp_path: Path,
) -> None:
    from support import KESTREL

    script = tmp_path / "second_process.py"
    script.write_text(SECOND_PROCESS, encoding="utf-8")
    assert follower.allows(subject, "newsletter").reason is Reason.no_consent
    url = ledger_engine.url.render_as_string(hide_password=False)
    process = subprocess.Popen(
        [sys.executable, str(script), url, subject, str(KESTREL)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_at = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if follower.allows(subject, "newsletter").allowed:
            seen_at = time.time()
            break
        if process.poll() is not None and seen_at is None:
            # Committed; it must be seen within the second from now on at the latest.
            deadline = min(deadline, time.monotonic() + WITHIN)
        time.sleep(0.01)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    committed_at = float(out.strip())
    assert seen_at is not None, "the other process's write was never seen"
    assert seen_at - committed_at < WITHIN


def test_when_the_feed_cannot_be_read_the_cache_empties_itself(
    ledger_engine: Engine,
    other_engine: Engine,
    follower: DecisionCache,
    subject: str,
    kestrel_policy: Policy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert follower.allows(subject, "newsletter").reason is Reason.no_consent
    with other_engine.begin() as connection:
        connection.execute(text("ALTER TABLE consent_changes RENAME TO consent_changes_away"))
    try:
        # A write the feed cannot announce (it is gone) is still seen, from the database.
        with make_sessionmaker(other_engine).begin() as session:
            session.add(
                ConsentEvent(
                    record_id="a1f0c9de-0000-4000-8000-000000000001",
                    subject_id=subject,
                    purpose="newsletter",
                    state="given",
                    occurred_at=NOW,
                    policy_version=kestrel_policy.version,
                    notice_hash=kestrel_policy.content_hash,
                    categories=["user.contact.email"],
                    method="api",
                    acted_by="subject",
                )
            )
        with caplog.at_level(logging.WARNING, logger="troth.consent.cache"):
            eventually(lambda: follower.allows(subject, "newsletter").allowed)
        assert "cannot read the change feed" in caplog.text
    finally:
        with other_engine.begin() as connection:
            connection.execute(text("ALTER TABLE consent_changes_away RENAME TO consent_changes"))


def test_a_started_cache_keeps_polling_the_feed(follower: DecisionCache, subject: str) -> None:
    assert follower.allows(subject, "newsletter").reason is Reason.no_consent
    polls = follower.polls
    eventually(lambda: follower.polls >= polls + 2)


def test_pruning_the_feed_writes_only_when_rows_are_stale_and_keeps_the_newest(
    cache: DecisionCache, sessions: sessionmaker[Session], clock: Clock, ledger_engine: Engine
) -> None:
    from sqlalchemy import select

    from troth.consent.models import ConsentChange

    now = clock()
    with sessions.begin() as session:
        session.add(ConsentChange(subject_ids=None, changed_at=now - timedelta(minutes=5)))
    # Nothing older than the hour the feed is kept: an idle pass reads and writes nothing.
    with statements(ledger_engine) as seen:
        cache._prune_feed()
    assert any("consent_changes" in s for s in seen)  # the pass did look
    assert not [s for s in seen if s.lstrip().upper().startswith(("DELETE", "UPDATE"))]
    with sessions.begin() as session:
        session.add_all(
            [
                ConsentChange(subject_ids=None, changed_at=now - timedelta(hours=3)),
                ConsentChange(subject_ids=None, changed_at=now - timedelta(hours=2)),
            ]
        )
    cache._last_prune = -math.inf  # the next pass is due
    cache._prune_feed()
    with sessions() as session:
        left = list(session.scalars(select(ConsentChange.changed_at).order_by(ConsentChange.seq)))
    # The stale rows go, except the newest row of all, which stays whatever its age.
    assert sorted(left) == [now - timedelta(hours=2), now - timedelta(minutes=5)]
