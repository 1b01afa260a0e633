"""The request queue and request page of the console: ordering and filters under a moved clock,
the decisions (each through the rights service functions, so audited), who may take them, and
CSRF on every form."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from apikey_support import MovingClock
from consent_support import STAFF
from rights_support import take_request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from staff_support import STARTED, Console, Member, console, csrf_of, make_member

from troth.audit import AuditEvent
from troth.declaration import Policy
from troth.jobs import Job
from troth.rights import (
    EXECUTE_JOB,
    RecipientTask,
    get_request,
    mark_verified,
    start_review,
)
from troth.staff import Role
from troth.store import make_sessionmaker, write_scope
from troth.subjects import Keyring
from troth.web.console.requests import time_left

DAY = timedelta(days=1)


@pytest.fixture
def desk(kestrel_policy: Policy, sqlite_url: str, keyring: Keyring) -> Iterator[Console]:
    with console(kestrel_policy, sqlite_url, keyring, MovingClock(STARTED)) as c:
        yield c


def sessions_of(desk: Console) -> sessionmaker[Session]:
    return make_sessionmaker(desk.engine)


def new_request(
    desk: Console,
    policy: Policy,
    keyring: Keyring,
    kind: str,
    received: datetime,
    *,
    email: str,
    until: str = "received",
) -> str:
    """A request received at ``received`` under the GDPR, moved on to ``until``."""
    with write_scope(sessions_of(desk)) as session:
        found = take_request(
            session, policy, keyring, kind, email=email, now=received, jurisdiction="eu-gdpr"
        )
        if until in ("verified", "in_review"):
            mark_verified(session, found.id, method="email_code", now=received, actor=STAFF)
        if until == "in_review":
            start_review(session, found.id, now=received, actor=STAFF)
        return found.id


def signed_in(desk: Console, keyring: Keyring, role: Role) -> Member:
    member = make_member(desk.engine, keyring, f"{role.value}@example.org", role)
    assert desk.sign_in(member).headers["location"] == "/console"
    return member


def references(page_text: str, ids: list[str]) -> list[str]:
    """The ids among ``ids`` in the order the page lists them."""
    return sorted((i for i in ids if f"/console/requests/{i}" in page_text), key=page_text.index)


def state_of(desk: Console, request_id: str) -> str:
    with sessions_of(desk)() as session:
        return get_request(session, request_id).state


def test_time_left_reads_in_days_and_hours() -> None:
    assert time_left(STARTED + DAY * 2 + timedelta(hours=3), STARTED) == "2 days 3 h left"
    assert time_left(STARTED + timedelta(hours=5), STARTED) == "5 h left"
    assert time_left(STARTED - DAY, STARTED) == "overdue by 1 day"
    assert time_left(STARTED, STARTED) == "overdue by under an hour"


def test_the_queue_lists_overdue_first_then_by_deadline_and_filters(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    # Kestrel promises completion within 30 days, sooner than the GDPR's month.
    old = new_request(desk, kestrel_policy, keyring, "access", STARTED - DAY * 40, email="a@x.org")
    fresh = new_request(
        desk,
        kestrel_policy,
        keyring,
        "erasure",
        STARTED - DAY * 5,
        email="b@x.org",
        until="verified",
    )
    middle = new_request(
        desk, kestrel_policy, keyring, "access", STARTED - DAY * 20, email="c@x.org"
    )
    ids = [old, fresh, middle]
    agent = signed_in(desk, keyring, Role.agent)

    page = desk.client.get("/console/requests")
    assert page.status_code == 200
    assert references(page.text, ids) == [old, middle, fresh]
    assert page.text.count("Overdue</strong>") == 1
    assert "overdue by 10 days" in page.text  # received 40 days ago, due after 30

    overdue = desk.client.get("/console/requests?overdue=1")
    assert references(overdue.text, ids) == [old]
    erasures = desk.client.get("/console/requests?kind=erasure")
    assert references(erasures.text, ids) == [fresh]
    verified = desk.client.get("/console/requests?state=verified")
    assert references(verified.text, ids) == [fresh]
    assert "yes, email_code" in verified.text

    # Fifteen days on (a new session: the old one ended when idle), the middle one is overdue
    # as well, and the oldest overdue still leads.
    desk.clock.advance((DAY * 15).total_seconds())
    assert desk.sign_in(agent).headers["location"] == "/console"
    later = desk.client.get("/console/requests?overdue=1")
    assert later.status_code == 200
    assert references(later.text, ids) == [old, middle]
    assert "overdue by 25 days" in later.text and "overdue by 5 days" in later.text


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=lost", "'state'"), ("kind=gossip", "'kind'"), ("overdue=yes", "'overdue'")],
)
def test_a_filter_that_cannot_be_read_is_named(
    desk: Console, keyring: Keyring, query: str, field: str
) -> None:
    signed_in(desk, keyring, Role.auditor)
    answer = desk.client.get(f"/console/requests?{query}")
    assert answer.status_code == 400
    assert f"{field} is" in html.unescape(answer.text)


def test_the_request_page_shows_clocks_plan_and_timeline(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "erasure", STARTED - DAY, email="d@x.org", until="verified"
    )
    signed_in(desk, keyring, Role.auditor)
    page = desk.client.get(f"/console/requests/{request_id}")
    assert page.status_code == 200
    assert "verified by email_code" in page.text
    assert "The plan" in page.text
    for action in ("rights.request_received", "rights.request_verified"):
        assert action.removeprefix("rights.") in page.text
    assert "29 days left" in page.text  # received a day ago, due within 30
    # The auditor reads; no form is offered to them.
    assert 'name="csrf"' not in page.text.split("</header>", 1)[1]
    assert desk.client.get("/console/requests/no-such-id").status_code == 404


def test_approving_queues_the_execution_and_is_audited(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "access", STARTED, email="e@x.org", until="verified"
    )
    signed_in(desk, keyring, Role.privacy_officer)
    page = desk.client.get(f"/console/requests/{request_id}")
    csrf = csrf_of(page)
    reviewed = desk.client.post(
        f"/console/requests/{request_id}/review", data={"csrf": csrf}, follow_redirects=False
    )
    assert reviewed.status_code == 303
    assert state_of(desk, request_id) == "in_review"
    approved = desk.client.post(f"/console/requests/{request_id}/approve", data={"csrf": csrf})
    assert approved.status_code == 200
    assert "its execution is queued" in approved.text
    assert state_of(desk, request_id) == "approved"
    with sessions_of(desk)() as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == EXECUTE_JOB)))
        assert [job.payload for job in jobs] == [{"request_id": request_id}]
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "rights.request_approved")
        ).all()
        assert len(events) == 1 and events[0].actor_kind == "staff"
    # Approving twice is refused by the state machine, in words.
    again = desk.client.post(f"/console/requests/{request_id}/approve", data={"csrf": csrf})
    assert again.status_code == 409
    assert "cannot go from approved to approved" in again.text


def test_denying_needs_a_reason(desk: Console, kestrel_policy: Policy, keyring: Keyring) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "erasure", STARTED, email="f@x.org", until="in_review"
    )
    signed_in(desk, keyring, Role.admin)
    csrf = csrf_of(desk.client.get(f"/console/requests/{request_id}"))
    blank = desk.client.post(
        f"/console/requests/{request_id}/deny", data={"csrf": csrf, "reason": "  "}
    )
    assert blank.status_code == 400
    assert "say why" in blank.text
    assert state_of(desk, request_id) == "in_review"
    denied = desk.client.post(
        f"/console/requests/{request_id}/deny", data={"csrf": csrf, "reason": "Not the account"}
    )
    assert denied.status_code == 200 and "Denied" in denied.text
    assert state_of(desk, request_id) == "denied"


def test_extending_too_late_is_refused_with_the_rule(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    late = new_request(
        desk,
        kestrel_policy,
        keyring,
        "access",
        STARTED - DAY * 40,
        email="g@x.org",
        until="in_review",
    )
    timely = new_request(
        desk, kestrel_policy, keyring, "access", STARTED - DAY, email="h@x.org", until="in_review"
    )
    signed_in(desk, keyring, Role.privacy_officer)
    csrf = csrf_of(desk.client.get(f"/console/requests/{late}"))
    refused = desk.client.post(
        f"/console/requests/{late}/extend", data={"csrf": csrf, "reason": "Many systems"}
    )
    assert refused.status_code == 409
    assert "too late: an extension must be announced before the original deadline" in refused.text
    with sessions_of(desk)() as session:
        assert not get_request(session, late).extended
    extended = desk.client.post(
        f"/console/requests/{timely}/extend", data={"csrf": csrf, "reason": "Many systems"}
    )
    assert extended.status_code == 200 and "Deadline extended" in extended.text
    with sessions_of(desk)() as session:
        found = get_request(session, timely)
        assert found.extended and found.complete_by > found.original_complete_by


def test_agents_start_reviews_but_do_not_decide(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "access", STARTED, email="i@x.org", until="verified"
    )
    signed_in(desk, keyring, Role.agent)
    page = desk.client.get(f"/console/requests/{request_id}")
    assert "Start review" in page.text and "Approve" not in page.text
    csrf = csrf_of(page)
    started = desk.client.post(f"/console/requests/{request_id}/review", data={"csrf": csrf})
    assert started.status_code == 200
    for action in ("approve", "deny", "extend"):
        answer = desk.client.post(
            f"/console/requests/{request_id}/{action}", data={"csrf": csrf, "reason": "x"}
        )
        assert answer.status_code == 403, action
        assert "Your role does not open this page" in answer.text
    assert state_of(desk, request_id) == "in_review"


def test_auditors_change_nothing(desk: Console, kestrel_policy: Policy, keyring: Keyring) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "access", STARTED, email="j@x.org", until="verified"
    )
    signed_in(desk, keyring, Role.auditor)
    csrf = csrf_of(desk.client.get("/console"))
    answer = desk.client.post(f"/console/requests/{request_id}/review", data={"csrf": csrf})
    assert answer.status_code == 403
    assert state_of(desk, request_id) == "verified"


def test_recipient_tasks_are_marked_notified(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "erasure", STARTED, email="k@x.org", until="in_review"
    )
    other = new_request(
        desk, kestrel_policy, keyring, "erasure", STARTED, email="l@x.org", until="in_review"
    )
    with write_scope(sessions_of(desk)) as session:
        task = RecipientTask(
            request_id=request_id,
            recipient="mailer",
            categories=["contact.email"],
            state="open",
            created_at=STARTED,
        )
        session.add(task)
        session.flush()
        task_id = task.id
    signed_in(desk, keyring, Role.agent)
    page = desk.client.get(f"/console/requests/{request_id}")
    assert "Mark mailer notified" in page.text
    csrf = csrf_of(page)
    # A task is marked only from its own request's page.
    wrong = desk.client.post(f"/console/requests/{other}/tasks/{task_id}/done", data={"csrf": csrf})
    assert wrong.status_code == 404
    done = desk.client.post(
        f"/console/requests/{request_id}/tasks/{task_id}/done", data={"csrf": csrf}
    )
    assert done.status_code == 200 and "Recipient marked as told" in done.text
    with sessions_of(desk)() as session:
        found = session.get(RecipientTask, task_id)
        assert found is not None and found.state == "done"
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "rights.recipient_notified")
        ).one()


@pytest.mark.parametrize(
    "action", ["review", "approve", "deny", "extend", "tasks/1/done", "proposed"]
)
def test_every_form_without_its_csrf_token_is_refused(
    desk: Console, kestrel_policy: Policy, keyring: Keyring, action: str
) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "access", STARTED, email="m@x.org", until="verified"
    )
    signed_in(desk, keyring, Role.admin)
    for form in ({"reason": "Because"}, {"csrf": "wrong", "reason": "Because"}):
        answer = desk.client.post(f"/console/requests/{request_id}/{action}", data=form)
        assert answer.status_code == 403
        assert "Form refused" in answer.text
    assert state_of(desk, request_id) == "verified"
    with sessions_of(desk)() as session:
        assert session.scalars(select(Job)).first() is None


def test_a_corrections_proposed_values_are_shown_on_request_and_the_read_is_audited(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    new_name = "Priya Natarajan-Iyer"
    with write_scope(sessions_of(desk)) as session:
        found = take_request(
            session,
            kestrel_policy,
            keyring,
            "correction",
            email="n@x.org",
            now=STARTED,
            jurisdiction="eu-gdpr",
            proposed={"user.name": new_name},
        )
        mark_verified(session, found.id, method="email_code", now=STARTED, actor=STAFF)
        request_id = found.id
    member = signed_in(desk, keyring, Role.agent)
    page = desk.client.get(f"/console/requests/{request_id}")
    # Not shown until asked for: every read of them is on the record.
    assert "Show the proposed values" in page.text and new_name not in page.text
    shown = desk.client.post(
        f"/console/requests/{request_id}/proposed", data={"csrf": csrf_of(page)}
    )
    assert shown.status_code == 200
    assert html.escape(new_name) in shown.text and "user.name" in shown.text
    with sessions_of(desk)() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "rights.proposed_values_read")
        ).all()
    assert event.actor_kind == "staff" and event.actor_id == member.id
    assert event.details == {"request_id": request_id, "categories": ["user.name"]}
    assert new_name not in repr(event.details)


def test_only_an_open_correction_has_proposed_values_to_show(
    desk: Console, kestrel_policy: Policy, keyring: Keyring
) -> None:
    request_id = new_request(
        desk, kestrel_policy, keyring, "access", STARTED, email="o@x.org", until="verified"
    )
    signed_in(desk, keyring, Role.admin)
    page = desk.client.get(f"/console/requests/{request_id}")
    assert "Show the proposed values" not in page.text
    refused = desk.client.post(
        f"/console/requests/{request_id}/proposed", data={"csrf": csrf_of(page)}
    )
    assert refused.status_code == 409
    with sessions_of(desk)() as session:
        assert not session.scalars(
            select(AuditEvent).where(AuditEvent.action == "rights.proposed_values_read")
        ).all()
