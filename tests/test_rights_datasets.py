"""Rights requests reach into the company's own databases: an approved access request exports
the rows the portal dataset finds, an erasure masks them (keeping what the financial-records rule
holds), and a worker that repeats a dataset step changes nothing more."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from company_support import OTHER, PORTAL, portal_company
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events
from rights_support import REQUESTER, approved_request, outbox, run_jobs
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from support import KESTREL
from sweep_support import NOW as SHOP_NOW
from sweep_support import erasable_shop_yaml, load_shop
from test_cli_apikeys import troth
from vault_support import submit

from troth.datasets import Connected, ConnectionConfigError, Target, connect_datasets, load_datasets
from troth.datasets.hashing import is_keyed_hash
from troth.datasets.sweep import sweep_dataset
from troth.declaration import Policy
from troth.retention.holds import place_hold
from troth.rights import execute_request, get_request, steps_done
from troth.rights.bundle import bundle_for_download
from troth.rights.dataset_steps import request_steps
from troth.rights.states import RequestKind
from troth.rights.steps import StepContext
from troth.store import make_engine
from troth.subjects import Keyring, create_key_file
from troth.vault import VaultItem


@pytest.fixture
def company(tmp_path: Path, kestrel_policy: Policy) -> Iterator[tuple[Engine, Connected]]:
    engine = portal_company(tmp_path / "portal.db")
    connected = connect_datasets(
        [PORTAL],
        policy=kestrel_policy,
        environ={"TROTH_DATASET_PORTAL_URL": str(engine.url)},
    )
    yield engine, connected
    connected.dispose()
    engine.dispose()


def _rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]


# the other customer's rows, by table and id
OTHERS = {
    "customer": {2},
    "address": {2},
    "orders": {20, 21},
    "order_item": {2},
    "payment_card": {2},
    "login": {2_000_000, 2_000_001, 2_000_002},
    "visit": {2},
}


def _contact(session: Session, policy: Policy, keyring: Keyring) -> str:
    return submit(session, policy, keyring, identity=("email", REQUESTER)).subject_id


def _others(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    return {t: [r for r in _rows(engine, t) if r[0] in ids] for t, ids in OTHERS.items()}


def test_an_erasure_masks_the_company_rows_and_keeps_what_the_law_holds(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    company: tuple[Engine, Connected],
) -> None:
    engine, connected = company
    others_before = _others(engine)
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")
    [result] = run_jobs(sessions, kestrel_policy, keyring, datasets=connected)
    assert result.outcome == "done"
    # the requester's rows: masked, hashed or deleted as portal.yaml declares
    assert _rows(engine, "customer")[0][1:4] == (None, None, None)
    assert [r[1:] for r in _rows(engine, "address") if r[0] == 1] == [(1, None, None, None)]
    orders = {r[0]: r for r in _rows(engine, "orders")}
    assert orders[10][2] == "erased"  # older than seven years: no longer held
    assert orders[11][2] == "Customer 1"  # an invoice from 2025: kept for the tax law
    assert all(is_keyed_hash(r[2]) for r in _rows(engine, "login") if r[1] == 1)
    assert [r[0] for r in _rows(engine, "payment_card")] == [2]
    assert [r[1] for r in _rows(engine, "visit")] == [OTHER]
    assert _others(engine) == others_before  # everyone else's rows are untouched
    with sessions() as session:
        request = get_request(session, request_id)
        portal = request.outcome["datasets"]["portal"]
        assert portal["deleted"] == {"payment_card": 1, "visit": 1}
        assert portal["kept"] == [
            {
                "collection": "orders",
                "field": "billing_name",
                "rule": "financial_records",
                "rows": 1,
            }
        ]
        assert "erase_dataset:portal" in steps_done(session, request_id)
        # something is kept, so the subject is restricted and told why
        assert audit_events(session, "subject.restriction_raised")
        [(to, body)] = outbox(session, keyring, "rights_completed")
        assert to == REQUESTER and "orders.billing_name (portal): Financial records" in body
        [event] = audit_events(session, "rights.dataset_erased")
        assert event.details["masked"]["customer"] == 1
        assert_audit_chain_clean(session, [REQUESTER, "Customer 1", "203.0.113.7", "MG Road"])


def test_a_dataset_step_run_twice_changes_nothing_more(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    company: tuple[Engine, Connected],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import troth.rights.execute as execute

    engine, connected = company
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")

    # The worker dies after the company database committed, before troth recorded the step.
    def dies(ctx: StepContext) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setitem(execute.STEP_FUNCTIONS, "erase_dataset", dies)
    [first] = run_jobs(sessions, kestrel_policy, keyring, datasets=connected)
    assert first.outcome == "retry"
    after_first = {t: _rows(engine, t) for t in ("customer", "orders", "login", "visit")}
    monkeypatch.undo()
    execute_request(sessions, kestrel_policy, keyring, request_id, NOW, datasets=connected)
    assert {t: _rows(engine, t) for t in after_first} == after_first
    with sessions() as session:
        request = get_request(session, request_id)
        assert request.state == "completed"
        # the report was counted before the first erasure: the repeat does not empty it
        portal = request.outcome["datasets"]["portal"]
        assert portal["deleted"] == {"payment_card": 1, "visit": 1}
        assert [k["field"] for k in portal["kept"]] == ["billing_name"]
        assert len(audit_events(session, "rights.dataset_erased")) == 1


def test_the_plan_counts_what_the_erasure_changes(tmp_path: Path, kestrel_policy: Policy) -> None:
    engine = portal_company(tmp_path / "portal.db")
    [dataset] = load_datasets(PORTAL)
    target = Target(dataset, engine, policy=kestrel_policy)
    identities = {"email": [REQUESTER]}
    with engine.connect() as conn:
        planned = target.plan(conn, identities, now=NOW)
    with engine.begin() as conn:
        erased = target.erase(conn, identities, now=NOW, hash_key=b"k" * 32)
    assert planned.as_json() == erased.as_json()
    assert planned.masked["login"] == 3 and planned.deleted == {"payment_card": 1, "visit": 1}
    engine.dispose()


def test_an_access_export_holds_the_company_rows(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    company: tuple[Engine, Connected],
) -> None:
    approved_request(sessions, kestrel_policy, keyring, "access")
    [result] = run_jobs(sessions, kestrel_policy, keyring, datasets=company[1])
    assert result.outcome == "done"
    with sessions() as session:
        [(_, body)] = outbox(session, keyring, "rights_completed")
        link = next(w for w in body.split() if "token=" in w)
        download = bundle_for_download(session, keyring, link.split("token=")[1], now=NOW)
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    data = json.loads(archive.read("data.json"))
    portal = data["datasets"]["portal"]
    assert [r["email"] for r in portal["customer"]] == [REQUESTER]
    assert len(portal["login"]) == 3 and {r["customer_id"] for r in portal["login"]} == {1}
    assert [r["id"] for r in portal["orders"]] == [10, 11]
    assert [r["gift_message"] for r in portal["order_item"]] == ["Happy birthday"]
    assert OTHER not in json.dumps(data)
    assert "datasets/portal/login.csv" in archive.namelist()
    assert "In our other systems" in archive.read("summary.html").decode()


def test_steps_name_each_connected_dataset(company: tuple[Engine, Connected]) -> None:
    steps = request_steps(RequestKind.erasure, company[1])
    assert (
        steps.index("plan_dataset:portal")
        < steps.index("erase_dataset:portal")
        < steps.index("erase_items")
    )
    assert "erase_datasets" not in request_steps(RequestKind.erasure, None)


def test_a_dataset_without_a_connection_string_is_named(
    tmp_path: Path, kestrel_policy: Policy
) -> None:
    with pytest.raises(ConnectionConfigError, match="TROTH_DATASET_PORTAL_URL"):
        connect_datasets([PORTAL], policy=kestrel_policy, environ={})
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("datasets:\n  portal: sqlite:///nowhere.db\n", encoding="utf-8")
    connected = connect_datasets([PORTAL], policy=kestrel_policy, secrets_file=secrets, environ={})
    assert connected.keys == ["portal"]
    secrets.write_text("datasets:\n  portal: not a url\n", encoding="utf-8")
    with pytest.raises(ConnectionConfigError) as caught:
        connect_datasets([PORTAL], policy=kestrel_policy, secrets_file=secrets, environ={})
    assert "not a url" not in str(caught.value)


def test_a_database_that_cannot_be_reached_fails_the_step_without_naming_its_url(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "pa55-w0rd-never-shown"
    # nothing listens on port 9 (discard): the connection is refused at once
    url = f"postgresql+psycopg://troth:{secret}@127.0.0.1:9/portal"
    connected = connect_datasets(
        [PORTAL], policy=kestrel_policy, environ={"TROTH_DATASET_PORTAL_URL": url}
    )
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")
    [result] = run_jobs(sessions, kestrel_policy, keyring, datasets=connected)
    assert result.outcome == "retry"
    with sessions() as session:
        assert get_request(session, request_id).state == "executing"
        assert "erase_items" not in steps_done(session, request_id)  # nothing past the database
        assert_audit_chain_clean(session, [secret, "127.0.0.1:9", url])
    assert secret not in caplog.text and "127.0.0.1:9" not in caplog.text


def test_the_worker_names_the_variable_a_dataset_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TROTH_MASTER_KEY", raising=False)
    monkeypatch.delenv("TROTH_DATASET_PORTAL_URL", raising=False)
    create_key_file(tmp_path / "master.key")
    code, _, stderr = troth(
        "worker", "--once", "--declaration", str(KESTREL), "--db",
        f"sqlite:///{tmp_path / 'troth.db'}", "--key-file", str(tmp_path / "master.key"),
        "--datasets", str(PORTAL),
    )  # fmt: skip
    assert code == 1
    assert "TROTH_DATASET_PORTAL_URL" in stderr and "Traceback" not in stderr


def test_a_legal_hold_on_the_subject_suspends_the_erasure_everywhere(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    company: tuple[Engine, Connected],
) -> None:
    engine = company[0]
    before = {t: _rows(engine, t) for t in OTHERS}
    with sessions.begin() as session:
        subject_id = _contact(session, kestrel_policy, keyring)
        hold = place_hold(
            session,
            kestrel_policy,
            scope="subject",
            target=subject_id,
            reason="Case 2026-114",
            placed_by="Legal",
            now=NOW,
            actor=STAFF,
        )
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")
    [result] = run_jobs(sessions, kestrel_policy, keyring, datasets=company[1])
    assert result.outcome == "done"
    assert {t: _rows(engine, t) for t in OTHERS} == before  # every company row stays
    with sessions() as session:
        request = get_request(session, request_id)
        kept = request.outcome["kept"]
        assert kept and {k["rule"] for k in kept} == {"legal_hold"}
        assert session.scalar(select(func.count()).select_from(VaultItem)) == len(kept)
        [portal_kept] = request.outcome["datasets"]["portal"]["kept"]
        assert portal_kept["rule"] == "legal_hold" and portal_kept["hold"] == hold.id
        assert audit_events(session, "subject.restriction_raised")
        [(_, body)] = outbox(session, keyring, "rights_completed")
        assert "a legal hold suspends its deletion" in body


def test_holds_on_a_category_and_a_collection_keep_only_what_they_cover(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    company: tuple[Engine, Connected],
) -> None:
    engine = company[0]
    logins_before = _rows(engine, "login")
    cards_before = {r[0]: r for r in _rows(engine, "payment_card")}
    with sessions.begin() as session:
        for scope, target in (("category", "user.financial"), ("dataset", "portal.login")):
            place_hold(
                session,
                kestrel_policy,
                scope=scope,
                target=target,
                reason="Case 2026-207",
                placed_by="Legal",
                now=NOW,
                actor=STAFF,
            )
    request_id = approved_request(sessions, kestrel_policy, keyring, "erasure")
    [result] = run_jobs(sessions, kestrel_policy, keyring, datasets=company[1])
    assert result.outcome == "done"
    # the held collection is untouched; the card row stays for its held number, its holder goes
    assert _rows(engine, "login") == logins_before
    [card] = [r for r in _rows(engine, "payment_card") if r[0] == 1]
    assert card[2] is None and card[3] == cards_before[1][3]
    # what no hold covers is erased as usual
    assert _rows(engine, "customer")[0][1:4] == (None, None, None)
    assert [r[1] for r in _rows(engine, "visit")] == [OTHER]
    with sessions() as session:
        portal = get_request(session, request_id).outcome["datasets"]["portal"]
        assert portal["deleted"] == {"visit": 1}
        assert portal["masked"]["payment_card"] == 1 and "login" not in portal["masked"]
        held = [k for k in portal["kept"] if k["rule"] == "legal_hold"]
        assert sorted((k["collection"], k["field"], k["rows"]) for k in held) == [
            ("login", "*", 3),
            ("payment_card", "last4", 1),
        ]
        [(_, body)] = outbox(session, keyring, "rights_completed")
        assert "everything in portal.login: a legal hold suspends its deletion" in body
        assert "payment_card.last4 (portal): a legal hold suspends its deletion" in body


def test_the_plan_counts_what_an_erasure_under_holds_changes(
    tmp_path: Path, kestrel_policy: Policy
) -> None:
    from troth.datasets.holds import Holds

    engine = portal_company(tmp_path / "portal.db")
    [dataset] = load_datasets(PORTAL)
    target = Target(dataset, engine, policy=kestrel_policy)
    identities = {"email": [REQUESTER]}
    holds = Holds(categories=frozenset({"user.name"}), datasets=frozenset({"portal.visit"}))
    with engine.connect() as conn:
        planned = target.plan(conn, identities, now=NOW, holds=holds)
    with engine.begin() as conn:
        erased = target.erase(conn, identities, now=NOW, hash_key=b"k" * 32, holds=holds)
    assert planned.as_json() == erased.as_json()
    # names are kept everywhere (so the card row with a holder stays); visits are kept whole
    assert planned.deleted == {}
    kept = {(k.collection, k.field, k.rule) for k in planned.kept}
    assert ("visit", "*", "legal_hold") in kept
    assert ("customer", "name", "legal_hold") in kept
    assert ("payment_card", "holder", "legal_hold") in kept
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM customer WHERE id = 1")).scalar()
        visits = conn.execute(text("SELECT count(*) FROM visit")).scalar()
    assert names == "Customer 1" and visits == 2
    engine.dispose()


def test_an_access_export_puts_back_the_values_isolated_from_the_rows(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    load_shop(engine)
    with engine.begin() as conn:  # the shop's member 3 is the requester; their note 1 expired
        conn.execute(text("UPDATE member SET email = :e WHERE id = 3"), {"e": REQUESTER})
    file = tmp_path / "shop.yaml"
    file.write_text(erasable_shop_yaml(), encoding="utf-8")
    connected = connect_datasets(
        [file], policy=kestrel_policy, environ={"TROTH_DATASET_SHOP_URL": str(engine.url)}
    )
    counts = sweep_dataset(
        connected.target("shop"),
        kestrel_policy,
        SHOP_NOW,
        hash_key=keyring.current.dataset_hash_key(),
        seal=keyring.seal_isolated,
    )
    assert counts.rules["project_data"] == {"isolated": 1}
    approved_request(sessions, kestrel_policy, keyring, "access")
    [result] = run_jobs(sessions, kestrel_policy, keyring, datasets=connected)
    assert result.outcome == "done"
    with sessions() as session:
        [(_, body)] = outbox(session, keyring, "rights_completed")
        link = next(w for w in body.split() if "token=" in w)
        download = bundle_for_download(session, keyring, link.split("token=")[1], now=NOW)
    data = json.loads(zipfile.ZipFile(io.BytesIO(download.content)).read("data.json"))
    notes = {row["id"]: row for row in data["datasets"]["shop"]["project_note"]}
    assert notes[1]["body"] == "warranty claim" and notes[1]["troth_isolated_at"]
    assert notes[2]["body"] == "follow-up work" and notes[2]["troth_isolated_at"] is None
    # tables with nothing isolated keep their own columns only
    assert all("troth_isolated_at" not in row for row in data["datasets"]["shop"]["member"])
    connected.dispose()
    engine.dispose()
