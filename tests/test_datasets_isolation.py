"""Isolation by a retention sweep (the ``project_data`` rule): values sealed away and masked in
place, read back by the rows' keys, erased with the rows a rights request reaches unless a hold
covers them, refused to open when moved to another row, and released when the rule no longer
isolates; and what `troth datasets check` refuses to isolate. The shop is in sweep_support.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from support import dump as dump_yaml
from support import kestrel_data
from sweep_support import (
    HASH_KEY,
    KEYRING,
    MEMBERS,
    NOW,
    SHOP_YAML,
    by_id,
    dump,
    erasable_shop_yaml,
    shop_dataset,
    shop_fixture,  # noqa: F401 (the shop fixture)
    shop_target,
    sqlite_shop_fixture,  # noqa: F401 (the sqlite_shop fixture)
    sweep_shop,
)

from troth.datasets import Dataset, isolation, read_datasets
from troth.datasets.holds import Holds
from troth.datasets.review import review_rows
from troth.datasets.units import sweep_problems
from troth.declaration import Policy, read_declaration
from troth.subjects import TamperedError


def _isolated(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(isolation.isolated_rows))]


def _erasable_shop() -> Dataset:
    (dataset,) = read_datasets(erasable_shop_yaml(), "shop.yaml")
    return dataset


def test_isolate_seals_the_values_away_masks_them_and_the_auditor_reads_them_back(
    shop: Engine, kestrel_policy: Policy
) -> None:
    counts = sweep_shop(shop, kestrel_policy, batch_size=1)
    assert counts.rules["project_data"] == {"isolated": 1}
    assert counts.skipped == []
    [record] = _isolated(shop)
    assert (record["collection"], record["rule"], record["fields"]) == (
        "project_note",
        "project_data",
        "body",
    )
    assert b"warranty claim" not in bytes(record["sealed"])  # sealed, not copied
    target = shop_target(shop, kestrel_policy)
    member = by_id(MEMBERS)[3]
    with shop.connect() as conn:
        keys = target.reachable_keys(conn, {"email": [member["email"]]})
        assert keys["project_note"] == [(1,), (2,)]
        [found] = isolation.read(conn, target.dataset, keys, open_=KEYRING.open_isolated)
    assert (found.collection, found.row_key, found.rule) == ("project_note", (1,), "project_data")
    assert found.values == {"body": "warranty claim"}
    # done once: the next sweep isolates nothing more
    again = sweep_shop(shop, kestrel_policy)
    assert "isolated" not in again.rules.get("project_data", {})
    assert len(_isolated(shop)) == 1
    assert review_rows(target, kestrel_policy, NOW)["project_data"].isolated == 1


def test_erasure_deletes_the_isolated_values_of_the_rows_it_reaches(
    shop: Engine, kestrel_policy: Policy
) -> None:
    sweep_shop(shop, kestrel_policy)
    target = shop_target(shop, kestrel_policy, _erasable_shop())
    identities = {"email": [by_id(MEMBERS)[3]["email"]]}
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
    sweep_shop(sqlite_shop, kestrel_policy)
    target = shop_target(sqlite_shop, kestrel_policy, _erasable_shop())
    identities = {"email": [by_id(MEMBERS)[3]["email"]]}
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
    sweep_shop(sqlite_shop, kestrel_policy)
    with sqlite_shop.begin() as conn:
        conn.execute(update(isolation.isolated_rows).values(row_key="[2]"))
    dataset = shop_dataset()
    with sqlite_shop.connect() as conn, pytest.raises(TamperedError, match="integrity check"):
        isolation.read(conn, dataset, {"project_note": [(2,)]}, open_=KEYRING.open_isolated)


def test_isolated_values_are_released_when_the_rule_no_longer_isolates(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    sweep_shop(sqlite_shop, kestrel_policy)
    assert len(_isolated(sqlite_shop)) == 1
    data = kestrel_data()
    for rule in data["retention"]:
        if rule["key"] == "project_data":
            rule["action"] = "delete"
    changed, problems = read_declaration(dump_yaml(data), "privacy.yaml")
    assert changed is not None, problems
    counts = sweep_shop(sqlite_shop, changed)
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


def test_a_sweep_that_would_isolate_without_a_seal_refuses_before_writing(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    before = dump(sqlite_shop)
    with pytest.raises(ValueError, match="isolates data needs seal"):
        sweep_shop(sqlite_shop, kestrel_policy, seal=None)
    assert dump(sqlite_shop) == before  # nothing half-done
