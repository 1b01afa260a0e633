"""The console's audit trail: search by subject, actor, action and dates; pages; verification."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
from apikey_support import MovingClock
from audit_support import execute
from consent_api_support import ON_EACH_DATABASE
from sqlalchemy.orm import Session
from staff_support import STARTED, Console, Member, console, make_member

from troth.audit import Actor, AuditEvent, EventQuery, record_event, search_events
from troth.declaration import Policy
from troth.staff import Role
from troth.store import make_sessionmaker, write_scope
from troth.subjects import Keyring

SEQ = re.compile(r'<th scope="row">(\d+)</th>')
DAY = timedelta(days=1)


@pytest.fixture
def desk(
    kestrel_policy: Policy, database: str, keyring: Keyring
) -> Iterator[tuple[Console, Member]]:
    with console(kestrel_policy, database, keyring, MovingClock(STARTED)) as c:
        auditor = make_member(c.engine, keyring, "audrey@example.org", Role.auditor)
        assert c.sign_in(auditor).headers["location"] == "/console"
        yield c, auditor


def add_events(c: Console) -> None:
    """Events on three days before the console's clock: two subjects, a key and a job."""
    with write_scope(make_sessionmaker(c.engine)) as session:
        for day, actor, action, subject in [
            (3, Actor.api_key("key111111111"), "consent.recorded", "subject-a"),
            (3, Actor.api_key("key111111111"), "consent.recorded", "subject-b"),
            (2, Actor.system("retention.sweep"), "subject.erased", "subject-a"),
            (1, Actor.api_key("key222222222"), "consent.recorded", "subject-a"),
            (1, Actor.api_key("key222222222"), "consentx.other", None),
        ]:
            record_event(
                session,
                actor=actor,
                action=action,
                subject_id=subject,
                details={"day": day},
                now=STARTED - day * DAY,
            )


def seqs(answer_text: str) -> list[int]:
    return [int(seq) for seq in SEQ.findall(answer_text)]


def search(c: Console, **params: str) -> list[int]:
    answer = c.client.get("/console/audit", params=params)
    assert answer.status_code == 200, answer.text
    return seqs(answer.text)


@ON_EACH_DATABASE
def test_filters_narrow_the_trail(desk: tuple[Console, Member]) -> None:
    c, auditor = desk
    add_events(c)
    everything = search(c)
    assert everything == sorted(everything, reverse=True)  # newest first
    by_seq: dict[int, AuditEvent] = {}
    with make_sessionmaker(c.engine)() as session:
        for event in search_events(session, EventQuery()).events:
            by_seq[event.seq] = event

    def expected(test: Callable[[AuditEvent], bool]) -> list[int]:
        return sorted((seq for seq, event in by_seq.items() if test(event)), reverse=True)

    assert search(c, subject="subject-a") == expected(lambda e: e.subject_id == "subject-a")
    assert len(search(c, subject="subject-a")) == 3
    assert search(c, actor="key111111111") == expected(lambda e: e.actor_id == "key111111111")
    assert search(c, actor=auditor.id) == expected(lambda e: e.actor_id == auditor.id)
    assert len(search(c, actor=auditor.id)) == 3  # password accepted, enrolled, signed in
    # An action, or everything under a prefix; "consent" is not a prefix of "consentx".
    assert len(search(c, action="consent.recorded")) == 3
    assert search(c, action="consent") == search(c, action="consent.recorded")
    assert len(search(c, action="staff")) == 4
    day = (STARTED - 2 * DAY).date().isoformat()
    assert search(c, **{"from": day, "to": day}) == expected(lambda e: e.details == {"day": 2})
    since = (STARTED - DAY).date()
    midnight = datetime.combine(since, time(), UTC)
    assert search(c, **{"from": since.isoformat()}) == expected(lambda e: e.occurred_at >= midnight)
    assert len(search(c, **{"from": since.isoformat()})) == 2 + 4 + 1  # and the policy version
    assert search(c, subject="subject-a", actor="key222222222") == expected(
        lambda e: e.subject_id == "subject-a" and e.actor_id == "key222222222"
    )
    assert search(c, subject="nobody") == []


def test_the_page_shows_every_column(desk: tuple[Console, Member]) -> None:
    c, _ = desk
    add_events(c)
    text = c.client.get("/console/audit", params={"action": "subject.erased"}).text
    assert "1 event</caption>" in text
    row = text.split("<tbody>")[1].split("</tbody>")[0]
    when = (STARTED - 2 * DAY).strftime("%Y-%m-%d %H:%M:%S")
    for shown in (when, "system: <code>retention.sweep</code>", "<code>subject.erased</code>",
                  "<code>subject-a</code>", "{&#34;day&#34;: 2}"):  # fmt: skip
        assert shown in row


def test_long_trails_are_paginated(desk: tuple[Console, Member]) -> None:
    c, _ = desk
    with write_scope(make_sessionmaker(c.engine)) as session:
        for n in range(120):
            record_event(
                session,
                actor=Actor.system("test.job"),
                action="test.step_done",
                details={"n": n},
                now=STARTED,
            )
    first = c.client.get("/console/audit", params={"action": "test"})
    assert "120 events, page 1 of 3" in first.text
    assert 'href="/console/audit?action=test&amp;page=2" rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    pages = [seqs(first.text)] + [search(c, action="test", page=str(page)) for page in (2, 3)]
    assert [len(page) for page in pages] == [50, 50, 20]
    flat = [seq for page in pages for seq in page]
    assert flat == sorted(set(flat), reverse=True)
    last = c.client.get("/console/audit", params={"action": "test", "page": "3"}).text
    assert 'rel="next"' not in last and 'page=2" rel="prev"' in last


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "26/11/2026"}, "&#39;from&#39; is not a date"),
        ({"to": "yesterday"}, "&#39;to&#39; is not a date"),
        ({"from": "2026-11-20", "to": "2026-11-19"}, "&#39;to&#39; is before &#39;from&#39;"),
        ({"page": "0"}, "&#39;page&#39; is a whole number"),
        ({"page": "two"}, "&#39;page&#39; is a whole number"),
        ({"subject": "x" * 201}, "&#39;subject&#39; is at most 200"),
    ],
)
def test_bad_search_fields_are_named(
    desk: tuple[Console, Member], params: dict[str, str], message: str
) -> None:
    c, _ = desk
    answer = c.client.get("/console/audit", params=params)
    assert answer.status_code == 400
    assert message in answer.text


def test_verify_chain_reports_intact_and_broken_chains(desk: tuple[Console, Member]) -> None:
    c, _ = desk
    add_events(c)
    intact = c.client.get("/console/audit/verify")
    assert intact.status_code == 200
    assert "The chain is intact" in intact.text
    with make_sessionmaker(c.engine)() as session:
        count = len(search_events(session, EventQuery(), page_size=1000).events)
    assert f"{count} events verified" in intact.text
    execute(c.engine, "UPDATE audit_events SET action = 'subject.kept' WHERE seq = 4")
    broken = c.client.get("/console/audit/verify")
    assert "The chain is broken" in broken.text
    assert "event seq 4: altered" in broken.text


@ON_EACH_DATABASE
def test_search_events_escapes_like_wildcards(desk: tuple[Console, Member]) -> None:
    c, _ = desk
    add_events(c)
    with make_sessionmaker(c.engine)() as session:
        assert _count(session, "consent_") == 0
        assert _count(session, "consent%") == 0
        assert _count(session, "consent") == 3


def _count(session: Session, action: str) -> int:
    return search_events(session, EventQuery(action=action)).total
