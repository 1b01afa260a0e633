"""Two writers recording consent for one subject at once lose neither's events."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from random import Random

import pytest
from consent_support import NOW, STAFF, new_subject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import verify_chain
from troth.consent import (
    ConsentInput,
    ConsentState,
    CookieChoice,
    history,
    load_state,
    record_consents,
    record_cookie_choice,
)
from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring, MasterKey, new_browser_id

PER_WRITER = 20
# How long a second writer is given to reach the point where it waits for the first.
SETTLE_SECONDS = 0.5
PURPOSES = ("newsletter", "site_analytics", "email_engagement", "testimonials")


def write(
    sessions: sessionmaker[Session],
    policy: Policy,
    subject_id: str,
    writer: str,
    start: threading.Barrier,
) -> None:
    """One transaction per event, as a web request would; each event names its writer."""
    start.wait()
    for n in range(PER_WRITER):
        state = ConsentState.given if n % 2 == 0 else ConsentState.withdrawn
        with sessions.begin() as session:
            record_consents(
                session,
                policy,
                [
                    (
                        subject_id,
                        ConsentInput(PURPOSES[n % len(PURPOSES)], state, actor_ref=f"{writer}-{n}"),
                    )
                ],
                actor=STAFF,
                now=NOW + timedelta(seconds=n),
            )


def test_two_concurrent_writers_lose_neither(
    ledger_engine: Engine, keyring: Keyring, kestrel_policy: Policy
) -> None:
    sessions = make_sessionmaker(ledger_engine)
    with sessions.begin() as session:
        subject_id = new_subject(session, keyring)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(writer: str) -> None:
        try:
            write(sessions, kestrel_policy, subject_id, writer, start)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    with sessions() as session:
        events = history(session, subject_id)
        chain = verify_chain(session)
    refs = [event.actor_ref for event in events]
    assert len(refs) == 2 * PER_WRITER
    for writer in ("a", "b"):
        mine = [ref for ref in refs if ref is not None and ref.startswith(f"{writer}-")]
        # Events of one time are in the order recorded, so each writer's run stays in order.
        assert mine == [f"{writer}-{n}" for n in range(PER_WRITER)]
    assert chain.ok, chain.message
    assert chain.count == 1 + 2 * PER_WRITER  # the subject's creation and one per event


def choose(session: Session, policy: Policy, keyring: Keyring, browser: str) -> CookieChoice:
    return record_cookie_choice(
        session,
        policy=policy,
        keyring=keyring,
        browser_id=browser,
        accepted=["analytics"],
        gpc=False,
        revision=0,
        now=NOW,
    )


WAITING_INSERT = text(
    "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)"
    " WHERE NOT granted AND query LIKE 'INSERT INTO identities%'"
)


def wait_until_blocked(engine: Engine, thread: threading.Thread) -> None:
    """Return once ``thread`` waits for a lock the caller holds (or, on SQLite, after a pause)."""
    if engine.dialect.name != "postgresql":
        thread.join(timeout=SETTLE_SECONDS)
        assert thread.is_alive(), "the second writer did not wait for the first"
        return
    # Generous: on a loaded machine the thread can take seconds to reach its INSERT.
    deadline = time.monotonic() + 30
    with engine.connect() as observer:
        while not observer.execute(WAITING_INSERT).scalar():
            # A writer that ended (with an error, say) cannot be waiting: say so at once.
            assert thread.is_alive(), "the second writer ended instead of waiting"
            assert time.monotonic() < deadline, "the second writer never waited"
            time.sleep(0.02)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Keyring]]:
    """One database for every example; each example has a subject of its own."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('interleave') / 'troth.db'}")
    upgrade(engine)
    yield engine, Keyring(MasterKey.generate())
    engine.dispose()


choices = st.lists(
    st.tuples(st.sampled_from(PURPOSES), st.sampled_from(["given", "refused", "withdrawn"])),
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=choices, second=choices, order=st.randoms())
def test_any_interleaving_of_two_writers_keeps_both_sequences(
    shared: tuple[Engine, Keyring],
    kestrel_policy: Policy,
    first: list[tuple[str, str]],
    second: list[tuple[str, str]],
    order: Random,
) -> None:
    engine, keyring = shared
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        subject_id = new_subject(session, keyring)
    tagged = [
        [(f"a-{n}", *c) for n, c in enumerate(first)],
        [(f"b-{n}", *c) for n, c in enumerate(second)],
    ]
    # An interleaving: which writer goes next, each keeping its own order.
    turns = [0] * len(first) + [1] * len(second)
    order.shuffle(turns)
    queues = [list(tagged[0]), list(tagged[1])]
    applied = []
    for turn in turns:
        ref, purpose, state = queues[turn].pop(0)
        with sessions.begin() as session:
            record_consents(
                session,
                kestrel_policy,
                [(subject_id, ConsentInput(purpose, state, actor_ref=ref))],
                actor=STAFF,
                now=NOW,  # one moment for all: the order recorded decides
            )
        applied.append((ref, purpose, state))

    with sessions() as session:
        events = history(session, subject_id)
        state_now = load_state(session, subject_id, NOW)
    assert [(e.actor_ref, e.purpose, e.state) for e in events] == applied
    refs = [e.actor_ref or "" for e in events]
    assert [r for r in refs if r.startswith("a-")] == [ref for ref, _, _ in tagged[0]]
    assert [r for r in refs if r.startswith("b-")] == [ref for ref, _, _ in tagged[1]]
    last = {purpose: state for _, purpose, state in applied}
    assert {p: c.state.value for p, c in state_now.consents.items()} == last


def test_two_first_visits_of_one_browser_at_once_make_one_subject(
    ledger_engine: Engine, keyring: Keyring, kestrel_policy: Policy
) -> None:
    sessions = make_sessionmaker(ledger_engine)
    browser = new_browser_id()
    results: list[object] = []
    errors: list[BaseException] = []

    def second_visit() -> None:
        try:
            with sessions.begin() as session:
                results.append(choose(session, kestrel_policy, keyring, browser))
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    with sessions() as first_session, first_session.begin():
        first = choose(first_session, kestrel_policy, keyring, browser)
        thread = threading.Thread(target=second_visit)
        thread.start()
        wait_until_blocked(ledger_engine, thread)
    thread.join(timeout=30)
    assert not errors, errors
    (second,) = results
    assert first.created
    assert (second.subject_id, second.created, second.recorded) == (first.subject_id, False, [])
