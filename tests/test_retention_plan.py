"""The retention plan month by month, the review report (CSV and HTML), and the daily sweep
as durable work under a moved clock (P17, P20)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from consent_support import NOW, STAFF, audit_events
from retention_support import DAY, inquiry, project
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.declaration import Policy
from troth.jobs import Job
from troth.retention import (
    SWEEP_JOB,
    month_ends,
    place_hold,
    plan_vault,
    report_csv,
    report_html,
    review_report,
    sweep_vault,
)
from troth.rights import worker_pass
from troth.subjects import Keyring
from troth.vault import VaultItem

YEAR = timedelta(days=365)


def test_month_ends_start_after_the_current_month() -> None:
    ends = month_ends(datetime(2026, 11, 15, tzinfo=UTC), 3)
    assert ends == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2027, 2, 1, tzinfo=UTC),
    )


def test_the_plan_counts_items_per_month_and_what_holds_keep_back(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    # NOW is 1 November 2026; an enquiry is due a year after the person's last activity.
    last_year = NOW.replace(year=NOW.year - 1)
    with sessions.begin() as session:
        inquiry(session, kestrel_policy, keyring, 1, active=last_year - DAY)  # due now
        held = inquiry(session, kestrel_policy, keyring, 2, active=last_year + 10 * DAY)  # Nov
        inquiry(session, kestrel_policy, keyring, 3, active=last_year + 40 * DAY)  # December
        inquiry(session, kestrel_policy, keyring, 4, active=NOW - 15 * DAY)  # October 2027
        inquiry(session, kestrel_policy, keyring, 5, active=NOW)  # November 2027: too far
        place_hold(
            session,
            kestrel_policy,
            scope="subject",
            target=held,
            reason="Tax audit AY 2025-26",
            placed_by="legal",
            now=NOW,
            actor=STAFF,
        )
    with sessions() as session:
        plan = plan_vault(session, kestrel_policy, NOW)
    assert plan.labels == [
        "now",
        "Nov 2026",
        "Dec 2026",
        "Jan 2027",
        "Feb 2027",
        "Mar 2027",
        "Apr 2027",
        "May 2027",
        "Jun 2027",
        "Jul 2027",
        "Aug 2027",
        "Sep 2027",
        "Oct 2027",
    ]
    assert [row.rule for row in plan.rows] == [r.key for r in kestrel_policy.declaration.retention]
    [row] = [row for row in plan.rows if row.rule == "inquiries"]
    assert (row.source, row.action, row.due_now, row.held_now) == ("vault", "delete", 5, 0)
    assert row.by_month == (0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5)
    assert row.held_by_month == (5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert all(r.total == 0 for r in plan.rows if r.rule != "inquiries")
    # The plan is what the sweep then does.
    assert sweep_vault(sessions, kestrel_policy, NOW).total() == row.due_now


def test_the_review_report_says_what_is_held_since_when_and_why(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        inquiry(session, kestrel_policy, keyring, 1, active=NOW - 30 * DAY)
        inquiry(session, kestrel_policy, keyring, 2)
        project(session, kestrel_policy, keyring, 1, completed=NOW - 6 * YEAR)
        hold_id = place_hold(
            session,
            kestrel_policy,
            scope="category",
            target="user.contact",
            reason="Order <17> of the Data Protection Board",
            placed_by="legal",
            until=NOW + 90 * DAY,
            now=NOW,
            actor=STAFF,
        ).id
    sweep_vault(sessions, kestrel_policy, NOW)  # isolates the project data the hold does not keep
    with sessions() as session:
        report = review_report(session, kestrel_policy, NOW + DAY)
    rows = {row.rule: row for row in report.rows}
    inquiries = rows["inquiries"]
    assert inquiries.categories == sorted(
        [
            "user.name",
            "user.contact.email",
            "user.contact.phone_number",
            "user.contact.organization",
            "user.content.private",
        ]
    )
    assert (inquiries.items, inquiries.isolated, inquiries.waiting) == (10, 0, 0)
    assert inquiries.oldest == NOW - 30 * DAY
    assert [(h.hold_id, h.items) for h in inquiries.holds] == [(hold_id, 6)]
    projects = rows["project_data"]
    assert (projects.items, projects.isolated, projects.legal_basis) == (1, 1, "contract")
    assert [(h.hold_id, h.items) for h in projects.holds] == [(hold_id, 1)]
    assert projects.reason == "To support warranty claims and follow-up work"
    assert rows["financial_records"].items == 0 and rows["financial_records"].holds == []
    assert [h.id for h in report.holds] == [hold_id]

    table = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert [r["rule"] for r in table] == [r.key for r in kestrel_policy.declaration.retention]
    by_rule = {r["rule"]: r for r in table}
    assert by_rule["inquiries"]["items"] == "10"
    assert by_rule["inquiries"]["legal_holds"] == f"{hold_id}:6"
    assert by_rule["inquiries"]["oldest_collected_at"] == "2026-10-02"
    assert by_rule["project_data"]["isolated"] == "1"
    assert by_rule["financial_records"]["legal_basis"] == "legal_obligation"

    html = report_html(report)
    assert "Order &lt;17&gt; of the Data Protection Board" in html
    assert "Order <17>" not in html
    assert "Kestrel" in html and hold_id in html
    for secret in ("writer1@example.in", "Priya"):
        assert secret not in html and secret not in report_csv(report)


def test_the_worker_keeps_a_daily_sweep_scheduled_and_runs_it(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        due = inquiry(session, kestrel_policy, keyring, 1, active=NOW.replace(year=2025))
    first = worker_pass(sessions, kestrel_policy, keyring, NOW)
    assert first.sweep_scheduled and first.jobs_done == 0
    assert not worker_pass(
        sessions, kestrel_policy, keyring, NOW + timedelta(hours=1)
    ).sweep_scheduled
    with sessions() as session:
        [job] = session.scalars(select(Job).where(Job.kind == SWEEP_JOB)).all()
        assert job.run_after == datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
        assert session.scalars(select(VaultItem).where(VaultItem.subject_id == due)).all()
    at_two = datetime(2026, 11, 2, 2, 0, 30, tzinfo=UTC)
    ran = worker_pass(sessions, kestrel_policy, keyring, at_two)
    assert ran.jobs_done == 1 and ran.sweep_scheduled
    with sessions() as session:
        assert session.scalars(select(VaultItem).where(VaultItem.subject_id == due)).all() == []
        assert len(audit_events(session, "retention.swept")) == 1
        runs = session.scalars(select(Job).where(Job.kind == SWEEP_JOB).order_by(Job.run_after))
        assert [(j.state, j.run_after) for j in runs] == [
            ("done", datetime(2026, 11, 2, 2, 0, tzinfo=UTC)),
            ("pending", datetime(2026, 11, 3, 2, 0, tzinfo=UTC)),
        ]
    later = worker_pass(sessions, kestrel_policy, keyring, at_two + timedelta(hours=12))
    assert later.jobs_done == 0 and not later.sweep_scheduled
    off = worker_pass(sessions, kestrel_policy, keyring, at_two + 2 * DAY, retention=False)
    assert off.jobs_done == 0 and not off.sweep_scheduled
