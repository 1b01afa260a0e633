"""Carrying requests out over troth's own store: the export equals what was collected, erasure
keeps what the law holds and says why, corrections replace values, recipients get tasks, and the
consent ledger gets the signals and withdrawals asked for."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events, give
from rights_support import REQUESTER, approved_request, outbox, run_jobs
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from vault_support import PHONE, submit

from troth.consent import load_state
from troth.declaration import Policy
from troth.notify import ExpiredLink
from troth.rights import (
    BundleGone,
    KeptItem,
    bundle_for_download,
    close_account,
    complete_recipient_task,
    execute_request,
    get_request,
    plan_request,
    proposed_values,
    recipient_tasks,
    steps_done,
    timeline,
)
from troth.rights.bundle import item_json
from troth.rights.steps import StepContext
from troth.subjects import Keyring
from troth.subjects.models import Identity, Subject
from troth.subjects.registry import find_subject, link_identity
from troth.vault import VaultItem, items_of

INVOICE = [
    {"category": "user.name", "value": "Asha Rao"},
    {"category": "user.financial", "value": "Invoice KS-2026-118, INR 4,20,000"},
]


def _contact(session: Session, policy: Policy, keyring: Keyring) -> str:
    return submit(session, policy, keyring, identity=("email", REQUESTER)).subject_id


def _invoice(session: Session, policy: Policy, keyring: Keyring) -> None:
    submit(
        session,
        policy,
        keyring,
        INVOICE,
        identity=("email", REQUESTER),
        source="client_signup",
        purpose="billing",
        collection_point=None,
    )


def test_the_export_holds_exactly_what_was_collected(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
        give(session, kestrel_policy, subject_id, "newsletter")
    with sessions() as session:
        expected = [item_json(item) for item in items_of(session, keyring, subject_id)]
    request_id = approved_request(sessions, kestrel_policy, keyring, "access")
    [result] = run_jobs(sessions, kestrel_policy, keyring)
    assert result.outcome == "done"
    with sessions() as session:
        request = get_request(session, request_id)
        assert request.state == "completed"
        [(to, text)] = outbox(session, keyring, "rights_completed")
    assert to == REQUESTER
    link = next(line for line in text.splitlines() if line.startswith("https://"))
    token = parse_qs(urlparse(link).query)["token"][0]
    with sessions.begin() as session:
        download = bundle_for_download(session, keyring, token, now=NOW + timedelta(days=1))
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    data = json.loads(archive.read("data.json"))
    assert data["items"] == expected
    assert {"kind": "email", "value": REQUESTER.lower()} in data["identities"]
    assert [c["purpose"] for c in data["consent_history"]] == ["newsletter"]
    recipients = {r["key"]: r for r in data["recipients"]}
    assert set(recipients) == {"aws", "kestrel_europe"}
    assert "user.contact.phone_number" in recipients["aws"]["categories"]
    csv_names = {n for n in archive.namelist() if n.startswith("categories/")}
    assert csv_names == {f"categories/{item['category']}.csv" for item in expected}
    summary = archive.read("summary.html").decode()
    assert "Kestrel Software" in summary and "Priya Natarajan" in summary
    with sessions() as session:
        assert [e.action for e in timeline(session, request_id)][-1] == "bundle_downloaded"
        assert audit_events(session, "rights.bundle_downloaded")
        assert_audit_chain_clean(session, [REQUESTER, "Natarajan", "warehouse"])


def test_a_download_link_expires(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        _contact(session, kestrel_policy, keyring)
    request_id = approved_request(sessions, kestrel_policy, keyring, "portability")
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        [(_to, text)] = outbox(session, keyring, "rights_completed")
        expires = get_request(session, request_id).bundle_expires_at
    assert expires is not None
    token = parse_qs(urlparse(text.split("https://", 1)[1].split()[0]).query)["token"][0]
    with sessions.begin() as session, pytest.raises(ExpiredLink):
        bundle_for_download(session, keyring, token, now=expires + timedelta(seconds=1))
    with sessions.begin() as session:
        get_request(session, request_id).bundle_expires_at = NOW
    with sessions.begin() as session, pytest.raises(BundleGone, match="expired"):
        bundle_for_download(session, keyring, token, now=NOW + timedelta(hours=1))


def test_erasure_keeps_what_the_law_holds_and_says_why(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
        _invoice(session, kestrel_policy, keyring)
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")
    with sessions() as session:
        plan = plan_request(session, kestrel_policy, keyring, get_request(session, request_id), NOW)
        assert {i.category for i in plan.erase} == {
            "user.name",
            "user.contact.email",
            "user.contact.phone_number",
            "user.contact.organization",
            "user.content.private",
        }
        assert {(k.category, k.rule, k.legal_basis) for k in plan.keep} == {
            ("user.name", "financial_records", "legal_obligation"),
            ("user.financial", "financial_records", "legal_obligation"),
        }
        assert not plan.shred_key
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        request = get_request(session, request_id)
        assert request.state == "completed"
        kept = request.outcome["kept"]
        assert {k["rule"] for k in kept} == {"financial_records"}
        assert all(
            k["reason"] == "Income-tax and GST law require invoices to be kept" for k in kept
        )
        left = items_of(session, keyring, subject_id)
        assert sorted(i.category for i in left) == ["user.financial", "user.name"]
        assert session.scalar(select(func.count()).select_from(Identity)) == 0
        assert session.get(Subject, subject_id).wrapped_key is not None  # held items readable
        assert load_state(session, subject_id, NOW).restricted
        [(to, text)] = outbox(session, keyring, "rights_completed")
        assert to == REQUESTER and "Income-tax and GST law" in text
        assert {t.recipient for t in recipient_tasks(session, request_id)} == {
            "aws",
            "kestrel_europe",
        }
        assert_audit_chain_clean(session, [REQUESTER, "Natarajan", "KS-2026"])


def test_erasure_with_nothing_held_destroys_the_key_and_is_idempotent(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        assert session.get(Subject, subject_id).wrapped_key is None
        assert session.scalar(select(func.count()).select_from(VaultItem)) == 0
        assert find_subject(session, keyring, "email", REQUESTER) is None
        request = get_request(session, request_id)
        assert request.outcome["kept"] == [] and request.outcome["key_destroyed"] is True
        # the confirmation outlives the key: it was stored under the outbox key
        [(to, _text)] = outbox(session, keyring, "rights_completed")
        assert to == REQUESTER
        audit_before = len(audit_events(session))
    # run again: every step is recorded, nothing is applied twice
    assert execute_request(sessions, kestrel_policy, keyring, request_id, NOW) == []
    with sessions() as session:
        assert len(audit_events(session)) == audit_before
        assert len(steps_done(session, request_id)) == 7


def test_a_job_killed_midway_resumes_without_repeating_a_step(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import troth.rights.execute as execute

    with sessions.begin() as session:
        _contact(session, kestrel_policy, keyring)
        _invoice(session, kestrel_policy, keyring)
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")
    calls: list[str] = []
    real = execute.STEP_FUNCTIONS["erase_identities"]

    def dies(ctx: StepContext) -> None:
        calls.append("erase_identities")
        raise RuntimeError("worker killed")

    monkeypatch.setitem(execute.STEP_FUNCTIONS, "erase_identities", dies)
    [first] = run_jobs(sessions, kestrel_policy, keyring)
    assert first.outcome == "retry"
    with sessions() as session:
        assert steps_done(session, request_id) == [
            "start",
            "recipient_tasks",
            "erase_items",
            "restrict_held",
            "notify",
        ]
        assert get_request(session, request_id).state == "executing"
    monkeypatch.setitem(execute.STEP_FUNCTIONS, "erase_identities", real)
    assert run_jobs(sessions, kestrel_policy, keyring) == []  # not due again yet
    [second] = run_jobs(sessions, kestrel_policy, keyring, NOW + timedelta(minutes=2))
    assert second.outcome == "done" and second.job_id == first.job_id
    assert calls == ["erase_identities"]
    with sessions() as session:
        assert get_request(session, request_id).state == "completed"
        assert len(steps_done(session, request_id)) == 7
        assert len(outbox(session, keyring, "rights_completed")) == 1
        assert len(audit_events(session, "rights.items_erased")) == 1
        assert len(audit_events(session, "subject.restriction_raised")) == 1
        assert len(recipient_tasks(session, request_id)) == 2
        assert [e.action for e in audit_events(session) if e.action.startswith("job.")] == [
            "job.queued",
            "job.deferred",
            "job.done",
        ]


def test_a_correction_replaces_values_and_opens_recipient_tasks(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
    request_id = approved_request(
        sessions, kestrel_policy, keyring, "correction", proposed={"user.name": "Asha Rao-Menon"}
    )
    with sessions() as session:  # what staff review
        request = get_request(session, request_id)
        assert proposed_values(session, keyring, request) == {"user.name": "Asha Rao-Menon"}
        assert request.proposed is not None and b"Rao-Menon" not in request.proposed
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        names = [
            i.value for i in items_of(session, keyring, subject_id) if i.category == "user.name"
        ]
        assert names == ["Asha Rao-Menon"]
        assert get_request(session, request_id).outcome["corrected"] == {"user.name": 1}
        tasks = recipient_tasks(session, request_id)
        assert {(t.recipient, t.state) for t in tasks} == {
            ("aws", "open"),
            ("kestrel_europe", "open"),
        }
        assert all(t.categories == ["user.name"] for t in tasks)
        task_id = tasks[0].id
    later = NOW + timedelta(days=1)
    with sessions.begin() as session:
        complete_recipient_task(session, task_id, now=later, actor=STAFF)
    with sessions.begin() as session:
        complete_recipient_task(session, task_id, now=later + timedelta(hours=1), actor=STAFF)
    with sessions() as session:
        task = next(t for t in recipient_tasks(session, request_id) if t.id == task_id)
        assert task.state == "done" and task.done_at == later and task.done_by == STAFF.id
        assert len(audit_events(session, "rights.recipient_notified")) == 1
        assert_audit_chain_clean(session, ["Rao-Menon", REQUESTER])


def test_a_correction_reaches_items_of_a_merged_subject(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        merged = submit(session, kestrel_policy, keyring, identity=("phone", PHONE)).subject_id
        subject_id = _contact(session, kestrel_policy, keyring)
        link_identity(session, keyring, subject_id, "phone", PHONE, now=NOW, actor=STAFF)
    approved_request(
        sessions, kestrel_policy, keyring, "correction", proposed={"user.name": "Asha Rao-Menon"}
    )
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        items = items_of(session, keyring, subject_id)
        assert {i.value for i in items if i.category == "user.name"} == {"Asha Rao-Menon"}
        assert len([i for i in items if i.category == "user.name"]) == 2
        assert session.get(Subject, merged).merged_into == subject_id


def test_ledger_requests_raise_signals_and_withdraw_consent(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
        for purpose in ("newsletter", "email_engagement", "site_analytics"):
            give(session, kestrel_policy, subject_id, purpose)
    for kind in ("objection", "opt_out_marketing", "stop_tracking", "restriction"):
        approved_request(sessions, kestrel_policy, keyring, kind)
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        state = load_state(session, subject_id, NOW)
    assert state.restricted and state.gpc_opt_out
    assert {"newsletter", "email_engagement", "testimonials"} <= state.objections
    assert None not in state.objections  # objecting to marketing is not objecting to all
    for purpose in ("newsletter", "email_engagement", "site_analytics"):
        assert state.consents[purpose].state.value == "withdrawn"


def test_withdrawing_consent_withdraws_every_consent_given(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
        give(session, kestrel_policy, subject_id, "newsletter")
        give(session, kestrel_policy, subject_id, "testimonials")
    approved_request(
        sessions,
        kestrel_policy,
        keyring,
        "withdraw_consent",
        acting_as="nominee",
        requester_email="advocate@example.in",
        relationship="nominated under DPDP s.14",
    )
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        state = load_state(session, subject_id, NOW)
    assert {p: c.state.value for p, c in state.consents.items()} == {
        "newsletter": "withdrawn",
        "testimonials": "withdrawn",
    }
    assert state.consents["newsletter"].acted_by == "nominee"


def test_closing_an_account_erases_it(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
        request_id = close_account(
            session, kestrel_policy, keyring, email=REQUESTER, now=NOW, actor=STAFF
        ).id
    run_jobs(sessions, kestrel_policy, keyring)
    with sessions() as session:
        request = get_request(session, request_id)
        assert request.kind == "erasure" and request.state == "completed"
        assert request.verification_method == "account"
        assert session.get(Subject, subject_id).wrapped_key is None


def test_kept_items_explain_themselves() -> None:
    kept = KeptItem(
        1,
        "user.financial",
        "billing",
        "financial_records",
        "Financial records",
        "legal_obligation",
        "Tax law",
        None,
        "project_completed",
    )
    assert kept.as_json()["waiting_for"] == "project_completed"
    assert kept.as_json()["retain_until"] is None
