"""Retention sweeps over a company database under a moved clock: each action on SQLite,
PostgreSQL and (when one is reachable) MariaDB; legal holds that suspend and release; a sweep
killed mid-way and run again; the plan month by month; isolation sealed away, read back by the
rows' keys, erased with them and released when the rule changes.

The shop dataset is built for the sweep's edge cases (a NOT NULL e-mail under anonymization whose
default erasure mask cannot empty it): `troth datasets check` would refuse it for rights
requests, so these tests bind it with ``check=False``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from pg_support import postgres_schema
from sqlalchemy import Engine, create_engine, select, text, update
from sqlalchemy.engine import make_url
from support import dump as dump_yaml
from support import kestrel_data
from sweep_support import (
    HASH_KEY,
    INVOICES,
    ISOLATED_NOTES,
    KEYRING,
    MEMBERS,
    NOTES,
    NOW,
    PAYMENTS,
    SHOP_YAML,
    VISITS,
    dump,
    erasable_shop_yaml,
    load_shop,
    shop_dataset,
)

from troth.datasets import Dataset, Target, is_keyed_hash, isolation, keyed_hash, read_datasets
from troth.datasets.holds import Holds
from troth.datasets.review import plan_dataset, review_rows
from troth.datasets.sweep import sweep_dataset
from troth.datasets.units import sweep_problems
from troth.declaration import Policy, read_declaration
from troth.store import display_url, make_engine
from troth.subjects import TamperedError

MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
EXPIRED_MEMBERS = {1, 2, 5}
EXPIRED_VISITS = {10, 11, 18}
EXPIRED_INVOICES = {100, 102, 104}


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh database on a reachable MariaDB (TROTH_TEST_MARIADB_URL, else the local one);
    skipped when there is none, and failed on CI only when the variable names one."""
    url = os.environ.get("TROTH_TEST_MARIADB_URL", MARIADB_URL)
    name = f"troth_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(url, connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # any failure to reach the server means the same thing here
        reason = f"MariaDB is not reachable at {display_url(url)} ({type(exc).__name__})"
        if os.environ.get("CI") == "true" and "TROTH_TEST_MARIADB_URL" in os.environ:
            pytest.fail(reason)
        pytest.skip(reason + "; start one or set TROTH_TEST_MARIADB_URL")
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def _engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
        yield engine
        engine.dispose()
    elif request.param == "postgres":
        with postgres_schema(request.getfixturevalue("postgres_url"), "troth_sweep") as url:
            engine = make_engine(url)
            yield engine
            engine.dispose()
    else:
        engine = create_engine(request.getfixturevalue("mariadb_url"))
        yield engine
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mariadb"])
def shop(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    for engine in _engine(request, tmp_path):
        load_shop(engine)
        yield engine


@pytest.fixture
def sqlite_shop(tmp_path: Any) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    load_shop(engine)
    yield engine
    engine.dispose()


def _sweep(engine: Engine, policy: Policy, holds: Holds | None = None, **kw: Any) -> Any:
    target = Target(shop_dataset(), engine, policy=policy, check=False)
    kw.setdefault("seal", KEYRING.seal_isolated)
    return sweep_dataset(target, policy, NOW, holds or Holds(), hash_key=HASH_KEY, **kw)


def _by_id(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in rows}


def _assert_swept(after: dict[str, list[dict[str, Any]]]) -> None:
    """The shop as one sweep without holds leaves it."""
    members = _by_id(after["member"])
    assert all(members[n]["name"] is None for n in EXPIRED_MEMBERS)
    assert all(members[n]["name"] is not None for n in set(members) - EXPIRED_MEMBERS)
    assert {r["id"] for r in after["visit"]} == {v["id"] for v in VISITS} - EXPIRED_VISITS
    invoices = _by_id(after["invoice"])
    assert {i for i, r in invoices.items() if r["billing_name"] == "erased"} == EXPIRED_INVOICES
    assert {r["id"] for r in after["payment"]} == {p["id"] for p in PAYMENTS} - {200}
    notes = _by_id(after["project_note"])
    assert [n for n, r in notes.items() if r["body"] is None] == sorted(ISOLATED_NOTES | {3})
    assert [r for n, r in notes.items() if n not in ISOLATED_NOTES] == [
        r for r in NOTES if r["id"] not in ISOLATED_NOTES
    ]


def _rows(
    rows: list[dict[str, Any]], ids: set[int], columns: tuple[str, ...] | None
) -> list[dict[str, Any]]:
    return [
        {c: v for c, v in row.items() if columns is None or c in columns}
        for row in rows
        if row["id"] in ids
    ]


def _naive(value: Any) -> Any:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


# -- each action ------------------------------------------------------------------------------


def test_anonymize_leaves_no_direct_identifier_and_generalises_the_rest(
    shop: Engine, kestrel_policy: Policy
) -> None:
    before = dump(shop)
    counts = _sweep(shop, kestrel_policy, batch_size=2)
    after = dump(shop)
    assert counts.rules["analytics"] == {"anonymized": 3}
    members = _by_id(after["member"])
    originals = _by_id(MEMBERS)
    secrets = [
        str(originals[n][column])
        for n in EXPIRED_MEMBERS
        for column in ("email", "name", "phone", "postal_code")
    ]
    # No original direct identifier (nor the full postal code) is left in any column of any row.
    for row in after["member"]:
        if row["id"] in EXPIRED_MEMBERS:
            for value in row.values():
                assert not any(secret in str(value) for secret in secrets), row["id"]
    for n in EXPIRED_MEMBERS:
        row, original = members[n], originals[n]
        assert is_keyed_hash(row["email"])  # NOT NULL and UNIQUE: a hash of the row, not the value
        assert row["email"] != keyed_hash(HASH_KEY, original["email"])
        assert row["name"] is None and row["phone"] is None
        assert row["postal_code"] == original["postal_code"][:3]
        assert row["city"] == "London" and row["gender"] == original["gender"]
        assert row["born"] == date(original["born"].year, 1, 1)
        assert _naive(row["first_order_at"]) == datetime(2019, 1, 1)
        assert _naive(row["last_seen_at"]) == original["last_seen_at"]  # the clock stays exact
    assert len({members[n]["email"] for n in EXPIRED_MEMBERS}) == 3
    # members whose clock has not run out, or not started, are untouched
    assert [r for r in after["member"] if r["id"] not in EXPIRED_MEMBERS] == [
        r for r in before["member"] if r["id"] not in EXPIRED_MEMBERS
    ]


def test_delete_masks_each_expired_field_and_deletes_rows(
    shop: Engine, kestrel_policy: Policy
) -> None:
    before = dump(shop)
    counts = _sweep(shop, kestrel_policy, batch_size=2)
    after = dump(shop)
    assert {r["id"] for r in after["visit"]} == {v["id"] for v in VISITS} - EXPIRED_VISITS
    invoices = _by_id(after["invoice"])
    for i in EXPIRED_INVOICES:
        original = _by_id(INVOICES)[i]
        assert invoices[i]["billing_name"] == "erased"
        assert invoices[i]["note"] is None
        if original["card"] is None:
            assert invoices[i]["card"] is None
        else:
            assert invoices[i]["card"] == keyed_hash(HASH_KEY, original["card"])
    unexpired = [r for r in before["invoice"] if r["id"] not in EXPIRED_INVOICES]
    assert [r for r in after["invoice"] if r["id"] not in EXPIRED_INVOICES] == unexpired
    # Payment 200's clock ran out under both rules: deleted. Payment 201's device is past 90 days,
    # but its payer's name is kept for 7 years under a legal obligation: the row waits, whole.
    payments = _by_id(after["payment"])
    assert set(payments) == {201, 202}
    assert payments[201] == _by_id(before["payment"])[201]
    assert counts.rules["visitor_logs"] == {"deleted": 4, "waiting": 1}
    assert counts.rules["financial_records"] == {"masked": 3}
    _assert_swept(after)


def test_a_second_sweep_changes_nothing(shop: Engine, kestrel_policy: Policy) -> None:
    _sweep(shop, kestrel_policy)
    once = dump(shop)
    counts = _sweep(shop, kestrel_policy)
    assert dump(shop) == once
    assert {rule: c for rule, c in counts.rules.items() if set(c) - {"waiting"}} == {}


def _isolated(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(isolation.isolated_rows))]


def test_isolate_seals_the_values_away_masks_them_and_the_auditor_reads_them_back(
    shop: Engine, kestrel_policy: Policy
) -> None:
    counts = _sweep(shop, kestrel_policy, batch_size=1)
    assert counts.rules["project_data"] == {"isolated": 1}
    assert counts.skipped == []
    [record] = _isolated(shop)
    assert (record["collection"], record["rule"], record["fields"]) == (
        "project_note",
        "project_data",
        "body",
    )
    assert b"warranty claim" not in bytes(record["sealed"])  # sealed, not copied
    target = Target(shop_dataset(), shop, policy=kestrel_policy, check=False)
    member = _by_id(MEMBERS)[3]
    with shop.connect() as conn:
        keys = target.reachable_keys(conn, {"email": [member["email"]]})
        assert keys["project_note"] == [(1,), (2,)]
        [found] = isolation.read(conn, target.dataset, keys, open_=KEYRING.open_isolated)
    assert (found.collection, found.row_key, found.rule) == ("project_note", (1,), "project_data")
    assert found.values == {"body": "warranty claim"}
    # done once: the next sweep isolates nothing more
    again = _sweep(shop, kestrel_policy)
    assert "isolated" not in again.rules.get("project_data", {})
    assert len(_isolated(shop)) == 1
    assert review_rows(target, kestrel_policy, NOW)["project_data"].isolated == 1


def _erasable_shop() -> Dataset:
    (dataset,) = read_datasets(erasable_shop_yaml(), "shop.yaml")
    return dataset


def test_erasure_deletes_the_isolated_values_of_the_rows_it_reaches(
    shop: Engine, kestrel_policy: Policy
) -> None:
    _sweep(shop, kestrel_policy)
    target = Target(_erasable_shop(), shop, policy=kestrel_policy, check=False)
    identities = {"email": [_by_id(MEMBERS)[3]["email"]]}
    with shop.connect() as conn:
        planned = target.plan(conn, identities, now=NOW)
    with shop.begin() as conn:
        erased = target.erase(conn, identities, now=NOW, hash_key=HASH_KEY)
    assert planned.isolated == erased.isolated == {"project_note": 1}
    assert erased.as_json()["isolated"] == {"project_note": 1}
    assert _isolated(shop) == []
    with shop.begin() as conn:  # nothing left to find
        assert target.erase(conn, identities, now=NOW, hash_key=HASH_KEY).isolated == {}


def test_a_hold_on_the_collection_keeps_isolated_values_from_erasure(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    _sweep(sqlite_shop, kestrel_policy)
    target = Target(_erasable_shop(), sqlite_shop, policy=kestrel_policy, check=False)
    identities = {"email": [_by_id(MEMBERS)[3]["email"]]}
    for holds in (
        Holds(datasets=frozenset({"shop.project_note"})),
        Holds(categories=frozenset({"user.content"})),
    ):
        with sqlite_shop.begin() as conn:
            erased = target.erase(conn, identities, now=NOW, hash_key=HASH_KEY, holds=holds)
        assert erased.isolated == {}
        assert len(_isolated(sqlite_shop)) == 1


def test_a_sealed_value_moved_to_another_row_does_not_open(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    _sweep(sqlite_shop, kestrel_policy)
    with sqlite_shop.begin() as conn:
        conn.execute(update(isolation.isolated_rows).values(row_key="[2]"))
    dataset = shop_dataset()
    with sqlite_shop.connect() as conn, pytest.raises(TamperedError, match="integrity check"):
        isolation.read(conn, dataset, {"project_note": [(2,)]}, open_=KEYRING.open_isolated)


def test_isolated_values_are_released_when_the_rule_no_longer_isolates(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    _sweep(sqlite_shop, kestrel_policy)
    assert len(_isolated(sqlite_shop)) == 1
    data = kestrel_data()
    for rule in data["retention"]:
        if rule["key"] == "project_data":
            rule["action"] = "delete"
    changed, problems = read_declaration(dump_yaml(data), "privacy.yaml")
    assert changed is not None, problems
    counts = _sweep(sqlite_shop, changed)
    assert counts.rules["project_data"]["released"] == 1
    assert _isolated(sqlite_shop) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "troth: {retention: project_data}",
            "troth: {retention: project_data, mask: delete_row}",
            "project_note.body: retention rule project_data isolates it, which keeps the row",
        ),
        (
            "fides_meta: {identity: email, data_type: string}\n            troth: {retention: "
            "analytics}",
            "fides_meta: {identity: email, data_type: string}\n            troth: {retention: "
            "project_data, timestamp: last_seen_at}",
            "member.email: retention rule project_data isolates it, but rows are found by it",
        ),
    ],
    ids=["delete_row", "identity"],
)
def test_the_check_refuses_what_cannot_be_isolated(
    old: str, new: str, message: str, kestrel_policy: Policy
) -> None:
    assert old in SHOP_YAML
    (dataset,) = read_datasets(SHOP_YAML.replace(old, new, 1), "shop.yaml")
    errors = [p for p in sweep_problems(dataset, kestrel_policy) if p.severity == "error"]
    assert [p.message[: len(message)] for p in errors] == [message]
    assert sweep_problems(shop_dataset(), kestrel_policy) == []


def shop_dataset_line(needle: str) -> int:
    lines = SHOP_YAML.splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.strip() == needle)


# -- holds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holds", "kept"),
    [
        # The IP addresses are held, so their rows are not deleted (the pages are masked).
        (Holds(categories=frozenset({"user.device"})), {"visit": EXPIRED_VISITS}),
        (Holds(datasets=frozenset({"shop.visit"})), {"visit": EXPIRED_VISITS}),
        (
            Holds(datasets=frozenset({"shop"})),
            {"visit": EXPIRED_VISITS, "member": EXPIRED_MEMBERS, "invoice": EXPIRED_INVOICES},
        ),
        (
            Holds(identities={"email": ["member1@example.org"]}),
            # member 1, and the visits and invoices reached from member 1
            {"member": {1}, "visit": {10}, "invoice": {100}},
        ),
    ],
    ids=["category", "collection", "dataset", "subject"],
)
def test_a_hold_suspends_the_sweep_until_it_is_lifted(
    shop: Engine, kestrel_policy: Policy, holds: Holds, kept: dict[str, set[int]]
) -> None:
    before = dump(shop)
    counts = _sweep(shop, kestrel_policy, holds)
    held = dump(shop)
    columns = ("id", "ip") if holds.categories else None
    for table, ids in kept.items():
        assert _rows(held[table], ids, columns) == _rows(before[table], ids, columns), table
    assert counts.rules["visitor_logs"].get("held", 0) >= len(kept.get("visit", ()))
    # Rows no hold covers were acted on as usual.
    if "member" not in kept or kept["member"] != EXPIRED_MEMBERS:
        others = EXPIRED_MEMBERS - kept.get("member", set())
        assert all(_by_id(held["member"])[n]["name"] is None for n in others)
    # Lifted: the next sweep acts, and ends where a sweep without holds ends.
    _sweep(shop, kestrel_policy)
    _assert_swept(dump(shop))


def test_a_subject_hold_covers_rows_reached_through_references(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    holds = Holds(identities={"email": ["member5@example.org"]})
    before = dump(sqlite_shop)
    counts = _sweep(sqlite_shop, kestrel_policy, holds)
    after = _by_id(dump(sqlite_shop)["member"])
    assert after[5] == _by_id(before["member"])[5]
    assert after[1]["name"] is None
    # visit 18 (2025) belongs to member 4 (18 % 5 + 1 = 4), invoice 104 to member 5
    assert _by_id(dump(sqlite_shop)["invoice"])[104] == _by_id(before["invoice"])[104]
    assert counts.rules["analytics"] == {"anonymized": 2, "held": 1}
    assert counts.rules["financial_records"]["held"] == 1


# -- crash and resume ---------------------------------------------------------------------------


class Killed(Exception):
    pass


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_a_sweep_killed_after_k_batches_and_run_again_ends_like_one_run(
    tmp_path: Any, kestrel_policy: Policy, k: int
) -> None:
    whole = make_engine(f"sqlite:///{tmp_path / 'whole.db'}")
    broken = make_engine(f"sqlite:///{tmp_path / 'broken.db'}")
    for engine in (whole, broken):
        load_shop(engine)
    _sweep(whole, kestrel_policy, batch_size=1)
    batches = 0

    def dies(done: int, total: int) -> None:
        nonlocal batches
        batches += 1
        assert done <= total
        if batches == k:
            raise Killed

    with pytest.raises(Killed):
        _sweep(broken, kestrel_policy, batch_size=1, progress=dies)
    assert dump(broken) != dump(whole)
    _sweep(broken, kestrel_policy, batch_size=1)
    assert dump(broken) == dump(whole)


@pytest.mark.postgres
def test_a_killed_sweep_resumes_on_postgres(postgres_url: str, kestrel_policy: Policy) -> None:
    with (
        postgres_schema(postgres_url, "troth_sweep") as whole_url,
        postgres_schema(postgres_url, "troth_sweep") as broken_url,
    ):
        whole, broken = make_engine(whole_url), make_engine(broken_url)
        for engine in (whole, broken):
            load_shop(engine)
        _sweep(whole, kestrel_policy, batch_size=2)
        seen: list[int] = []

        def dies(done: int, total: int) -> None:
            seen.append(done)
            if len(seen) == 3:
                raise Killed

        with pytest.raises(Killed):
            _sweep(broken, kestrel_policy, batch_size=2, progress=dies)
        _sweep(broken, kestrel_policy, batch_size=2)
        assert dump(broken) == dump(whole)
        whole.dispose()
        broken.dispose()


def test_progress_counts_up_to_the_total(sqlite_shop: Engine, kestrel_policy: Policy) -> None:
    calls: list[tuple[int, int]] = []
    counts = _sweep(
        sqlite_shop, kestrel_policy, batch_size=2, progress=lambda d, t: calls.append((d, t))
    )
    acted = sum(
        n for c in counts.rules.values() for a, n in c.items() if a not in ("held", "waiting")
    )
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1] == (acted, acted)


# -- plan and review ----------------------------------------------------------------------------


def test_the_plan_counts_what_expires_now_and_month_by_month(
    shop: Engine, kestrel_policy: Policy
) -> None:
    target = Target(shop_dataset(), shop, policy=kestrel_policy, check=False)
    plan = plan_dataset(target, kestrel_policy, NOW, Holds())
    # visits (90 days): 3 expired now; 2030-12-15 13:00 and 2030-12-20 expire in March 2031,
    # 2031-01-05 in April, 2031-03-01 in May, 2031-03-10 in June. Payments: 200 and 201 are
    # past 90 days (201 waits for the financial rule, but it has expired), 202 expires in May.
    assert plan["visitor_logs"] == [5, 2, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    # members (2 years): 3 expired; member 3 (2029-03-15 13:00) expires in March 2031.
    assert plan["analytics"] == [3, 1] + [0] * 11
    # invoices (7 years): 3 expired; invoice 101 (2024-03-16) expires in March 2031. Payment 200
    # (2019) is past 7 years; 201 (2030) and 202 are not within the year.
    assert plan["financial_records"] == [4, 1] + [0] * 11
    assert plan["project_data"] == [1] + [0] * 12
    _sweep(shop, kestrel_policy)
    after = plan_dataset(target, kestrel_policy, NOW, Holds())
    assert after["visitor_logs"][0] == 1  # payment 201, waiting
    assert after["analytics"][0] == 0 and after["financial_records"][0] == 0


def test_the_plan_leaves_out_held_rows(sqlite_shop: Engine, kestrel_policy: Policy) -> None:
    target = Target(shop_dataset(), sqlite_shop, policy=kestrel_policy, check=False)
    holds = Holds(identities={"email": ["member1@example.org"]})
    plan = plan_dataset(target, kestrel_policy, NOW, holds)
    assert plan["analytics"][0] == 2
    assert plan["visitor_logs"][0] == 3  # visit 10 (member 1) is held


def test_the_review_says_what_each_rule_holds_and_since_when(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    target = Target(shop_dataset(), sqlite_shop, policy=kestrel_policy, check=False)
    review = review_rows(target, kestrel_policy, NOW)
    assert review["analytics"].rows == 5
    assert review["analytics"].overdue == 3
    assert review["analytics"].unstarted == 1
    assert _naive(review["analytics"].oldest) == datetime(2020, 2, 29)
    _sweep(sqlite_shop, kestrel_policy)
    review = review_rows(target, kestrel_policy, NOW)
    assert (review["analytics"].rows, review["analytics"].overdue) == (2, 0)
    assert _naive(review["analytics"].oldest) == datetime(2029, 3, 15, 13, 0)
    assert review["financial_records"].rows == 2 + 2  # invoices 101, 103; payments 201, 202
    assert review["financial_records"].unstarted == 1
