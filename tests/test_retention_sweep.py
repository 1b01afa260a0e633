"""The retention sweep over the vault under a moved clock, on SQLite and PostgreSQL: each action
at the deadline, legal holds suspending and releasing it, a sweep stopped half-way, account
closure, and what the sweep records (P17–P20)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audit_support import migrated_engine
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events
from retention_support import (
    DAY,
    YEAR_AFTER,
    aggregates,
    inquiry,
    project,
    vault_rows,
    with_rule,
)
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker
from vault_support import CONTACT_FORM, NAME, PERSONAL, submit

from troth.declaration import Policy
from troth.retention import (
    LegalHold,
    RetentionSweep,
    lift_hold,
    place_hold,
    sweep_vault,
)
from troth.retention import sweep as sweep_module
from troth.rights.bundle import collect_data
from troth.rights.bundle import summary_html as build_summary
from troth.store import make_sessionmaker
from troth.subjects import Keyring
from troth.vault import ChildHold, VaultItem, items_of, record_subject_event

FORM = len(CONTACT_FORM)


def count_items(sessions: sessionmaker[Session], subject_id: str | None = None) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(VaultItem)
        if subject_id is not None:
            query = query.where(VaultItem.subject_id == subject_id)
        return session.scalar(query) or 0


def hold(
    sessions: sessionmaker[Session],
    policy: Policy,
    scope: str,
    target: str,
    *,
    until: object = None,
) -> str:
    with sessions.begin() as session:
        placed = place_hold(
            session,
            policy,
            scope=scope,
            target=target,
            reason="Case 2026/114 before the Pune civil court",
            placed_by="A. Kulkarni, legal",
            until=until,  # type: ignore[arg-type]
            now=NOW,
            actor=STAFF,
        )
        return placed.id


def test_delete_at_the_deadline_and_not_before(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        early = inquiry(session, kestrel_policy, keyring, 1)
        late = inquiry(session, kestrel_policy, keyring, 2, active=NOW + 100 * DAY)
    before = sweep_vault(sessions, kestrel_policy, YEAR_AFTER - DAY)
    assert before.total() == 0 and count_items(sessions) == 2 * FORM
    report = sweep_vault(sessions, kestrel_policy, YEAR_AFTER, batch_size=2)
    assert report.counts == {"vault": {"inquiries": {"delete": FORM}}}
    assert report.batches == 3  # 2 + 2 + 1
    assert count_items(sessions, early) == 0
    assert count_items(sessions, late) == FORM
    again = sweep_vault(sessions, kestrel_policy, YEAR_AFTER)
    assert again.total() == 0 and count_items(sessions, late) == FORM
    with sessions() as session:
        swept = audit_events(session, "retention.swept")
        assert [e.details["counts"] for e in swept] == [
            {},
            {"vault": {"inquiries": {"delete": FORM}}},
            {},
        ]
        assert all(e.subject_id is None for e in swept)
        runs = session.scalars(select(RetentionSweep).order_by(RetentionSweep.started_at)).all()
        assert [r.finished_at for r in runs] == [YEAR_AFTER - DAY, YEAR_AFTER, YEAR_AFTER]
        assert runs[1].counts == {"vault": {"inquiries": {"delete": FORM}}}
        assert_audit_chain_clean(session, PERSONAL)


def test_anonymize_keeps_counts_with_no_link_to_anyone(
    sessions: sessionmaker[Session], ledger_engine: Engine, keyring: Keyring
) -> None:
    policy = with_rule("inquiries", action="anonymize")
    with sessions.begin() as session:
        first = inquiry(session, policy, keyring, 1)
        second = inquiry(session, policy, keyring, 2, active=NOW + 3 * DAY)
        submissions = {i.submission_id for i in session.scalars(select(VaultItem))}
    report = sweep_vault(sessions, policy, YEAR_AFTER + 5 * DAY, batch_size=3)
    assert report.counts == {"vault": {"inquiries": {"anonymize": 2 * FORM}}}
    assert count_items(sessions) == 0
    assert aggregates(sessions) == sorted(
        ("vault", "inquiries", field["category"], "answer_inquiries", "2026-11", 2)
        for field in CONTACT_FORM
    )
    columns = {c["name"] for c in inspect(ledger_engine).get_columns("retention_aggregates")}
    assert columns == {"id", "source", "rule", "category", "purpose", "month", "count"}
    with ledger_engine.connect() as connection:
        kept = repr(connection.execute(text("SELECT * FROM retention_aggregates")).all())
    for secret in (*PERSONAL, first, second, *submissions, "writer1@example.in"):
        assert secret not in kept


def test_isolate_moves_items_out_of_reach_once(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        client = project(session, kestrel_policy, keyring, 1)
    five_years = NOW.replace(year=NOW.year + 5)
    assert sweep_vault(sessions, kestrel_policy, five_years - DAY).total() == 0
    report = sweep_vault(sessions, kestrel_policy, five_years)
    assert report.counts == {"vault": {"project_data": {"isolate": 2}}}
    with sessions() as session:
        assert items_of(session, keyring, client) == []
        isolated = items_of(session, keyring, client, include_isolated=True)
        assert [i.value for i in isolated] == [NAME, CONTACT_FORM[1]["value"]]
        assert {i.isolated_at for i in session.scalars(select(VaultItem))} == {five_years}
    assert sweep_vault(sessions, kestrel_policy, five_years + 30 * DAY).total() == 0
    assert count_items(sessions, client) == 2
    # Out of every staff read, but not out of the person's own access export (P10).
    with sessions() as session:
        data = collect_data(session, kestrel_policy, keyring, client, five_years + DAY)
    assert [(i["value"], i["isolated_at"]) for i in data["items"]] == [
        (NAME, five_years.isoformat()),
        (CONTACT_FORM[1]["value"], five_years.isoformat()),
    ]
    assert "archived since" in build_summary(kestrel_policy, data)
    # A later declaration that deletes at the deadline deletes what was isolated.
    deleting = with_rule("project_data", action="delete")
    later = sweep_vault(sessions, deleting, five_years + 31 * DAY)
    assert later.counts == {"vault": {"project_data": {"delete": 2}}}
    assert count_items(sessions, client) == 0


def test_a_subject_hold_suspends_deletion_until_it_is_lifted(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        kept = inquiry(session, kestrel_policy, keyring, 1)
        gone = inquiry(session, kestrel_policy, keyring, 2)
    hold_id = hold(sessions, kestrel_policy, "subject", kept)
    report = sweep_vault(sessions, kestrel_policy, YEAR_AFTER)
    assert report.counts == {"vault": {"inquiries": {"delete": FORM}}}
    assert report.held == {"vault": {"inquiries": FORM}}
    assert count_items(sessions, kept) == FORM and count_items(sessions, gone) == 0
    assert sweep_vault(sessions, kestrel_policy, YEAR_AFTER + DAY).total() == 0
    with sessions.begin() as session:
        lift_hold(session, hold_id, lifted_by="A. Kulkarni", now=YEAR_AFTER + 2 * DAY, actor=STAFF)
    released = sweep_vault(sessions, kestrel_policy, YEAR_AFTER + 3 * DAY)
    assert released.counts == {"vault": {"inquiries": {"delete": FORM}}} and not released.held
    assert count_items(sessions) == 0


def test_a_category_hold_covers_the_categories_under_it(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject = inquiry(session, kestrel_policy, keyring, 1)
    hold(sessions, kestrel_policy, "category", "user.contact")
    report = sweep_vault(sessions, kestrel_policy, YEAR_AFTER)
    assert report.held == {"vault": {"inquiries": 3}}
    with sessions() as session:
        left = {i.category for i in session.scalars(select(VaultItem))}
    assert left == {"user.contact.email", "user.contact.phone_number", "user.contact.organization"}
    assert count_items(sessions, subject) == 3


def test_a_dataset_hold_holds_the_vault_only_when_it_names_it(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        inquiry(session, kestrel_policy, keyring, 1)
        inquiry(session, kestrel_policy, keyring, 2)
    hold(sessions, kestrel_policy, "dataset", "portal.users")
    hold(sessions, kestrel_policy, "dataset", "vault")
    report = sweep_vault(sessions, kestrel_policy, YEAR_AFTER)
    assert report.total() == 0 and report.held == {"vault": {"inquiries": 2 * FORM}}


def test_a_hold_ends_by_itself_at_its_until_date(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject = inquiry(session, kestrel_policy, keyring, 1)
    hold(sessions, kestrel_policy, "subject", subject, until=YEAR_AFTER + 10 * DAY)
    assert sweep_vault(sessions, kestrel_policy, YEAR_AFTER + 9 * DAY).total() == 0
    assert count_items(sessions, subject) == FORM
    assert sweep_vault(sessions, kestrel_policy, YEAR_AFTER + 10 * DAY).total() == FORM
    with sessions() as session:
        [placed] = session.scalars(select(LegalHold)).all()
        assert placed.lifted_at is None  # expired, not lifted


def test_a_child_hold_is_left_to_the_childrens_sweep(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject = inquiry(session, kestrel_policy, keyring, 1)
    with sessions.begin() as session:
        # What troth.vault.holds does for a child's submission, on its own.
        child_hold = ChildHold(
            id="4b6f1f5e-2c8e-4f64-9a53-0d6c1b7e2a10",
            subject_id=subject,
            submission_id=None,
            purposes=["answer_inquiries"],
            categories=["user.name"],
            status="held",
            held_at=NOW,
            window_ends=NOW + 7 * DAY,
            policy_version=kestrel_policy.version,
        )
        session.add(child_hold)
        session.flush()
        for row in session.scalars(select(VaultItem).where(VaultItem.category == "user.name")):
            row.hold_id = child_hold.id
    report = sweep_vault(sessions, kestrel_policy, YEAR_AFTER)
    assert report.counts == {"vault": {"inquiries": {"delete": FORM - 1}}}
    assert count_items(sessions, subject) == 1


def test_closing_an_account_deletes_all_but_legally_held_data_at_the_deadline(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    # A customer asks a question when signing up and is billed; they close their account.
    identity = ("email", "customer@example.in")
    with sessions.begin() as session:
        signed_up = submit(
            session,
            kestrel_policy,
            keyring,
            [{"category": "user.name", "value": NAME}, CONTACT_FORM[1]],
            identity=identity,
            source="client_signup",
            purpose="answer_inquiries",
        )
        submit(
            session,
            kestrel_policy,
            keyring,
            [{"category": "user.financial", "value": "GSTIN 27AAACK1234A1Z5"}],
            identity=identity,
            source="client_signup",
            purpose="billing",
        )
    closed = NOW + 10 * DAY
    with sessions.begin() as session:
        record_subject_event(
            session,
            kestrel_policy,
            subject_id=signed_up.subject_id,
            event="account_closed",
            occurred_at=closed,
            now=closed,
            actor=STAFF,
        )
    assert sweep_vault(sessions, kestrel_policy, closed + 29 * DAY).total() == 0
    report = sweep_vault(sessions, kestrel_policy, closed + 30 * DAY)
    assert report.counts == {"vault": {"closed_accounts": {"delete": 2}}}
    with sessions() as session:
        left = session.scalars(select(VaultItem)).all()
        assert [(i.category, i.retention_rule) for i in left] == [
            ("user.financial", "financial_records")
        ]
    seven_years = NOW.replace(year=NOW.year + 7)
    assert sweep_vault(sessions, kestrel_policy, seven_years).total() == 1
    assert count_items(sessions) == 0


@pytest.fixture
def twin(
    request: pytest.FixtureRequest, ledger_engine: Engine, tmp_path: Path
) -> Iterator[sessionmaker[Session]]:
    """A second empty database of the same kind, for a run to compare with."""
    kind = "postgres" if ledger_engine.dialect.name == "postgresql" else "sqlite"
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else None
    (tmp_path / "twin").mkdir()
    with migrated_engine(kind, tmp_path / "twin", url) as engine:
        yield make_sessionmaker(engine)


def test_a_sweep_stopped_half_way_and_run_again_ends_as_one_uninterrupted_run(
    sessions: sessionmaker[Session],
    twin: sessionmaker[Session],
    keyring: Keyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = with_rule("inquiries", action="anonymize")
    for db in (sessions, twin):
        with db.begin() as session:
            for n in range(6):
                inquiry(session, policy, keyring, n, active=NOW + n * 20 * DAY)
            project(session, policy, keyring, 1, completed=NOW - 5 * 365 * DAY)
    at = YEAR_AFTER + 70 * DAY  # four of the six inquiries are due, and the project data
    uninterrupted = sweep_vault(twin, policy, at, batch_size=4)

    real = sweep_module.act
    batches = {"n": 0}

    def dies_after_three(*args: object, **kwargs: object) -> None:
        batches["n"] += 1
        if batches["n"] > 3:
            raise RuntimeError("worker killed")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sweep_module, "act", dies_after_three)
    with pytest.raises(RuntimeError, match="worker killed"):
        sweep_vault(sessions, policy, at, batch_size=4)
    half = vault_rows(sessions)
    assert len(half) == 6 * FORM + 2 - 3 * 4  # three whole batches, the fourth rolled back
    monkeypatch.setattr(sweep_module, "act", real)
    rerun = sweep_vault(sessions, policy, at, batch_size=4)
    assert vault_rows(sessions) == vault_rows(twin)
    assert aggregates(sessions) == aggregates(twin)
    assert uninterrupted.total() == 4 * FORM + 2
    assert rerun.total() == uninterrupted.total() - 3 * 4
    with sessions() as session:
        runs = session.scalars(select(RetentionSweep).order_by(RetentionSweep.started_at)).all()
        # The stopped run says what it did, and that it did not finish.
        assert sorted((r.finished_at is None, r.counts == {}, r.outcome) for r in runs) == [
            (False, False, "finished"),
            (True, False, "failed"),
        ]
        [failed] = audit_events(session, "retention.sweep_failed")
        assert failed.details["error"] == "RuntimeError" and failed.details["batches"] == 3
        assert (
            sum(
                n
                for rules in failed.details["counts"].values()
                for actions in rules.values()
                for n in actions.values()
            )
            == 3 * 4
        )


def test_a_run_whose_process_died_is_recorded_by_the_next_sweep(
    sessions: sessionmaker[Session], kestrel_policy: Policy
) -> None:
    from troth.retention.sweep import STALE_AFTER

    counts = {"vault": {"inquiries": {"delete": 8}}}
    with sessions.begin() as session:
        session.add(
            RetentionSweep(id="died", started_at=YEAR_AFTER - STALE_AFTER - DAY, counts=counts)
        )
        # one that started an hour ago may still be running: left alone
        session.add(RetentionSweep(id="running", started_at=YEAR_AFTER - DAY / 24, counts={}))
    sweep_vault(sessions, kestrel_policy, YEAR_AFTER)
    with sessions() as session:
        outcomes = {
            r.id: (r.outcome, r.finished_at) for r in session.scalars(select(RetentionSweep))
        }
        [event] = audit_events(session, "retention.sweep_interrupted")
    assert outcomes["died"] == ("interrupted", None)
    assert outcomes["running"] == (None, None)
    assert [o for i, o in outcomes.items() if i not in ("died", "running")] == [
        ("finished", YEAR_AFTER)
    ]
    assert event.details["sweep_id"] == "died" and event.details["counts"] == counts


def test_the_sweep_reports_progress(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        for n in range(3):
            inquiry(session, kestrel_policy, keyring, n)
    seen: list[tuple[int, int]] = []
    sweep_vault(
        sessions, kestrel_policy, YEAR_AFTER, batch_size=6, progress=lambda *a: seen.append(a)
    )
    assert seen == [(0, 15), (6, 15), (12, 15), (15, 15)]


def test_a_batch_size_below_one_is_refused(
    sessions: sessionmaker[Session], kestrel_policy: Policy
) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        sweep_vault(sessions, kestrel_policy, NOW, batch_size=0)
