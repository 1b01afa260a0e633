"""The retention sweep, plan and review report reach into connected company databases: the
portal's old invoices lose their billing names after seven years, a legal hold on a subject keeps
theirs, and the sweep's audit event counts the dataset beside the vault."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from company_support import PORTAL, portal_company
from consent_support import NOW, STAFF, audit_events
from rights_support import REQUESTER
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from vault_support import submit

from troth.datasets import Connected, connect_datasets
from troth.declaration import Policy
from troth.retention import plan_vault, review_report, sweep_vault
from troth.retention.datasets import plan_datasets, review_datasets
from troth.retention.holds import place_hold
from troth.subjects import Keyring


@pytest.fixture
def company(tmp_path: Path, kestrel_policy: Policy) -> Iterator[tuple[Engine, Connected]]:
    engine = portal_company(tmp_path / "portal.db")
    connected = connect_datasets(
        [PORTAL], policy=kestrel_policy, environ={"TROTH_DATASET_PORTAL_URL": str(engine.url)}
    )
    yield engine, connected
    connected.dispose()
    engine.dispose()


def _billing_names(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, billing_name FROM orders")).all())


def test_the_sweep_masks_expired_invoice_names_and_counts_them(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    company: tuple[Engine, Connected],
) -> None:
    engine, connected = company
    report = sweep_vault(sessions, kestrel_policy, NOW, datasets=connected, keyring=keyring)
    # 2016 orders are past financial_records' seven years; the 2025 ones are not
    assert _billing_names(engine) == {
        10: "erased",
        11: "Customer 1",
        20: "erased",
        21: "Customer 2",
    }
    assert report.counts["dataset:portal"]["financial_records"] == {"masked": 2}
    with sessions() as session:
        [event] = audit_events(session, "retention.swept")
        assert event.details["counts"]["dataset:portal"]["financial_records"] == {"masked": 2}
    # a second sweep finds nothing more to do
    again = sweep_vault(sessions, kestrel_policy, NOW, datasets=connected, keyring=keyring)
    assert "dataset:portal" not in again.counts


def test_a_hold_on_a_subject_keeps_their_rows_until_lifted(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    company: tuple[Engine, Connected],
) -> None:
    engine, connected = company
    with sessions.begin() as session:
        subject_id = submit(
            session, kestrel_policy, keyring, identity=("email", REQUESTER)
        ).subject_id
        place_hold(
            session, kestrel_policy, scope="subject", target=subject_id, reason="Case 7",
            placed_by="Legal", now=NOW, actor=STAFF,
        )  # fmt: skip
    with sessions() as session:
        plan = plan_vault(session, kestrel_policy, NOW)
        plan_datasets(session, kestrel_policy, keyring, connected, plan)
    [row] = [r for r in plan.rows if r.source == "dataset:portal"]
    assert (row.rule, row.due_now) == ("financial_records", 1)  # only the other customer's
    report = sweep_vault(sessions, kestrel_policy, NOW, datasets=connected, keyring=keyring)
    assert _billing_names(engine)[10] == "Customer 1"  # held
    assert _billing_names(engine)[20] == "erased"
    assert report.held["dataset:portal"]["financial_records"] >= 1


def test_the_review_report_lists_the_dataset_rule(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    company: tuple[Engine, Connected],
) -> None:
    with sessions() as session:
        report = review_report(session, kestrel_policy, NOW)
    review_datasets(kestrel_policy, company[1], report)
    [row] = [r for r in report.rows if r.source == "dataset:portal"]
    assert row.rule == "financial_records" and row.items == 4
    assert row.categories == ["user.name"] and row.legal_basis == "legal_obligation"
