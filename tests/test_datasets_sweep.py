"""Retention sweeps over a company database under a moved clock: each action on SQLite,
PostgreSQL and MariaDB (anonymize, delete, and a second sweep that changes nothing); legal holds
that suspend the sweep until they are lifted; a sweep killed mid-way and run again, and its
progress. Isolation is in test_datasets_isolation.py, the plan and review in
test_datasets_sweep_plan.py; the shop and its rows are in sweep_support.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sweep_support import (
    HASH_KEY,
    INVOICES,
    ISOLATED_NOTES,
    MEMBERS,
    NOTES,
    PAYMENTS,
    VISITS,
    by_id,
    dump,
    naive,
    shop_engine,
    shop_fixture,  # noqa: F401 (the shop fixture)
    sqlite_shop_fixture,  # noqa: F401 (the sqlite_shop fixture)
    sweep_shop,
)

from troth.datasets import is_keyed_hash, keyed_hash
from troth.datasets.holds import Holds
from troth.declaration import Policy

EXPIRED_MEMBERS = {1, 2, 5}
EXPIRED_VISITS = {10, 11, 18}
EXPIRED_INVOICES = {100, 102, 104}


def _assert_swept(after: dict[str, list[dict[str, Any]]]) -> None:
    """The shop as one sweep without holds leaves it."""
    members = by_id(after["member"])
    assert all(members[n]["name"] is None for n in EXPIRED_MEMBERS)
    assert all(members[n]["name"] is not None for n in set(members) - EXPIRED_MEMBERS)
    assert {r["id"] for r in after["visit"]} == {v["id"] for v in VISITS} - EXPIRED_VISITS
    invoices = by_id(after["invoice"])
    assert {i for i, r in invoices.items() if r["billing_name"] == "erased"} == EXPIRED_INVOICES
    assert {r["id"] for r in after["payment"]} == {p["id"] for p in PAYMENTS} - {200}
    notes = by_id(after["project_note"])
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


# -- each action ------------------------------------------------------------------------------


def test_anonymize_leaves_no_direct_identifier_and_generalises_the_rest(
    shop: Engine, kestrel_policy: Policy
) -> None:
    before = dump(shop)
    counts = sweep_shop(shop, kestrel_policy, batch_size=2)
    after = dump(shop)
    assert counts.rules["analytics"] == {"anonymized": 3}
    members = by_id(after["member"])
    originals = by_id(MEMBERS)
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
        assert naive(row["first_order_at"]) == datetime(2019, 1, 1)
        assert naive(row["last_seen_at"]) == original["last_seen_at"]  # the clock stays exact
    assert len({members[n]["email"] for n in EXPIRED_MEMBERS}) == 3
    # members whose clock has not run out, or not started, are untouched
    assert [r for r in after["member"] if r["id"] not in EXPIRED_MEMBERS] == [
        r for r in before["member"] if r["id"] not in EXPIRED_MEMBERS
    ]


def test_delete_masks_each_expired_field_and_deletes_rows(
    shop: Engine, kestrel_policy: Policy
) -> None:
    before = dump(shop)
    counts = sweep_shop(shop, kestrel_policy, batch_size=2)
    after = dump(shop)
    assert {r["id"] for r in after["visit"]} == {v["id"] for v in VISITS} - EXPIRED_VISITS
    invoices = by_id(after["invoice"])
    for i in EXPIRED_INVOICES:
        original = by_id(INVOICES)[i]
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
    payments = by_id(after["payment"])
    assert set(payments) == {201, 202}
    assert payments[201] == by_id(before["payment"])[201]
    assert counts.rules["visitor_logs"] == {"deleted": 4, "waiting": 1}
    assert counts.rules["financial_records"] == {"masked": 3}
    _assert_swept(after)


def test_a_second_sweep_changes_nothing(shop: Engine, kestrel_policy: Policy) -> None:
    sweep_shop(shop, kestrel_policy)
    once = dump(shop)
    counts = sweep_shop(shop, kestrel_policy)
    assert dump(shop) == once
    assert {rule: c for rule, c in counts.rules.items() if set(c) - {"waiting"}} == {}


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
    counts = sweep_shop(shop, kestrel_policy, holds)
    held = dump(shop)
    columns = ("id", "ip") if holds.categories else None
    for table, ids in kept.items():
        assert _rows(held[table], ids, columns) == _rows(before[table], ids, columns), table
    assert counts.rules["visitor_logs"].get("held", 0) >= len(kept.get("visit", ()))
    # Rows no hold covers were acted on as usual.
    if "member" not in kept or kept["member"] != EXPIRED_MEMBERS:
        others = EXPIRED_MEMBERS - kept.get("member", set())
        assert all(by_id(held["member"])[n]["name"] is None for n in others)
    # Lifted: the next sweep acts, and ends where a sweep without holds ends.
    sweep_shop(shop, kestrel_policy)
    _assert_swept(dump(shop))


def test_a_subject_hold_covers_rows_reached_through_references(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    holds = Holds(identities={"email": ["member5@example.org"]})
    before = dump(sqlite_shop)
    counts = sweep_shop(sqlite_shop, kestrel_policy, holds)
    after = by_id(dump(sqlite_shop)["member"])
    assert after[5] == by_id(before["member"])[5]
    assert after[1]["name"] is None
    # visit 18 (2025) belongs to member 4 (18 % 5 + 1 = 4), invoice 104 to member 5
    assert by_id(dump(sqlite_shop)["invoice"])[104] == by_id(before["invoice"])[104]
    assert counts.rules["analytics"] == {"anonymized": 2, "held": 1}
    assert counts.rules["financial_records"]["held"] == 1


# -- crash and resume ---------------------------------------------------------------------------


class Killed(Exception):
    pass


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_a_sweep_killed_after_k_batches_and_run_again_ends_like_one_run(
    kestrel_policy: Policy, k: int
) -> None:
    with shop_engine("sqlite", None) as whole, shop_engine("sqlite", None) as broken:
        sweep_shop(whole, kestrel_policy, batch_size=1)
        batches = 0

        def dies(done: int, total: int) -> None:
            nonlocal batches
            batches += 1
            assert done <= total
            if batches == k:
                raise Killed

        with pytest.raises(Killed):
            sweep_shop(broken, kestrel_policy, batch_size=1, progress=dies)
        assert dump(broken) != dump(whole)
        sweep_shop(broken, kestrel_policy, batch_size=1)
        assert dump(broken) == dump(whole)


@pytest.mark.postgres
def test_a_killed_sweep_resumes_on_postgres(postgres_url: str, kestrel_policy: Policy) -> None:
    with (
        shop_engine("postgres", postgres_url) as whole,
        shop_engine("postgres", postgres_url) as broken,
    ):
        sweep_shop(whole, kestrel_policy, batch_size=2)
        seen: list[int] = []

        def dies(done: int, total: int) -> None:
            seen.append(done)
            if len(seen) == 3:
                raise Killed

        with pytest.raises(Killed):
            sweep_shop(broken, kestrel_policy, batch_size=2, progress=dies)
        sweep_shop(broken, kestrel_policy, batch_size=2)
        assert dump(broken) == dump(whole)


def test_progress_counts_up_to_the_total(sqlite_shop: Engine, kestrel_policy: Policy) -> None:
    calls: list[tuple[int, int]] = []
    counts = sweep_shop(
        sqlite_shop, kestrel_policy, batch_size=2, progress=lambda d, t: calls.append((d, t))
    )
    acted = sum(
        n for c in counts.rules.values() for a, n in c.items() if a not in ("held", "waiting")
    )
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1] == (acted, acted)


def test_a_row_a_hold_keeps_is_counted_as_held_not_also_as_waiting(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    # Payments 200 and 201 are past visitor_logs' 90 days; a hold on names keeps their payer,
    # so neither row is deleted. 201 would also wait for financial_records: held says it all.
    counts = sweep_shop(sqlite_shop, kestrel_policy, Holds(categories=frozenset({"user.name"})))
    assert counts.rules["visitor_logs"] == {"deleted": 3, "held": 2}  # the three visits
    assert {r["id"] for r in dump(sqlite_shop)["payment"]} == {200, 201, 202}
