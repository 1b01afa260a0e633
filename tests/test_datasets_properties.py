"""Properties of access and erasure over generated company databases (P10–P13, P19).

Whatever the schema (chains, fan-outs, diamonds, self-references, composite keys, masked join
keys) and rows: access returns exactly the rows reachable from the person's identities; erasure
masks every declared field of those rows as its mask says, deletes the rows of collections that
delete rows, keeps what a legal retention rule holds, and leaves every other row byte for byte as
it was; erasing again changes nothing. The oracle (tests/dataset_oracle.py) computes reachability
as a fixpoint in Python, without the runner. SQLite always; PostgreSQL and MariaDB when
reachable, and always on CI.
"""

from __future__ import annotations

from collections.abc import Callable

from dataset_backends import fresh_engine
from dataset_gen import (
    HASH_KEY,
    NOW,
    Rows,
    Scenario,
    Schema,
    as_bytes,
    dataset_of,
    insert_rows,
    scenarios,
    schemas,
    snapshot,
)
from dataset_oracle import declared_rows, deleted, expected_after_erasure, kept, reachable
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine
from support import ROOT

from troth.datasets.run import Erasure, Target
from troth.declaration import Policy, load_policy

# Enough to meet every shape many times over on SQLite; fewer on a server, where each example
# creates its own schema or database (the shapes are the same, the dialect is what is tested).
EXAMPLES = {"sqlite": 30, "postgres": 20, "mariadb": 20}
KESTREL = load_policy(ROOT / "examples" / "kestrel" / "privacy.yaml")
Backend = tuple[str, str | None]


def _for_each_scenario(company_database: Backend, check: Callable[[Scenario], None]) -> None:
    """Run ``check`` over generated scenarios, as many as the backend affords. The engine is
    made inside each example, so no function-scoped fixture is shared between them."""
    run = settings(
        max_examples=EXAMPLES[company_database[0]],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(scenarios())(check))
    run()


def _erase(target: Target, engine: Engine, scenario: Scenario) -> Erasure:
    with engine.begin() as conn:
        return target.erase(conn, scenario.identities, now=NOW, hash_key=HASH_KEY)


@settings(max_examples=50, deadline=None)
@given(schema=schemas())
def test_the_loader_reads_every_generated_dataset_as_declared(schema: Schema) -> None:
    dataset = dataset_of(schema)
    assert [c.name for c in dataset.collections] == [t.name for t in schema.tables]
    assert {(e.source, e.source_field, e.target, e.target_field) for e in dataset.edges} == {
        (e.source, e.source_column, e.target, e.target_column) for e in schema.edges()
    }
    for table in schema.tables:
        collection = dataset.collection(table.name)
        assert collection.timestamp == table.timestamp
        assert collection.primary_key == table.key
        for column in table.columns:
            found = collection.field(column.name)
            if not column.declared:
                assert found is None
                continue
            assert found is not None
            assert (found.mask, found.value, found.retention, found.timestamp) == (
                column.mask or "nullify",
                column.value,
                column.retention,
                column.timestamp,
            )
            assert (found.personal, found.read_only, found.identity) == (
                column.personal,
                column.read_only,
                column.identity,
            )


def test_access_returns_exactly_the_reachable_rows(company_database: Backend) -> None:
    def check(scenario: Scenario) -> None:
        with fresh_engine(*company_database) as engine:
            insert_rows(scenario.schema, engine, scenario.rows)
            before = snapshot(scenario.schema, engine)
            target = Target(dataset_of(scenario.schema), engine)
            with engine.connect() as conn:
                found = target.access(conn, scenario.identities)
            reached = reachable(scenario.schema, before, scenario.identities)
            for table in scenario.schema.tables:
                expected = declared_rows(scenario.schema, before, reached[table.name], table.name)
                assert found.get(table.name, []) == expected, table.name
            assert set(found) <= {t.name for t in scenario.schema.tables}
            assert as_bytes(snapshot(scenario.schema, engine)) == as_bytes(before)

    _for_each_scenario(company_database, check)


def _check_erasure(
    scenario: Scenario, before: Rows, after: Rows, erasure: Erasure, *, policy: bool
) -> None:
    reached = reachable(scenario.schema, before, scenario.identities)
    expected = expected_after_erasure(scenario.schema, before, reached, policy=policy)
    for name, rows in as_bytes(expected).items():
        assert as_bytes(after)[name] == rows, name
    assert erasure.deleted == deleted(scenario.schema, before, expected)
    assert {(k.collection, k.field, k.rule, k.rows) for k in erasure.kept} == kept(
        scenario.schema, before, reached, policy=policy
    )
    changed = {
        t.name
        for t in scenario.schema.tables
        if as_bytes(after)[t.name] != as_bytes(before)[t.name]
    }
    assert changed <= set(erasure.masked) | set(erasure.deleted)


def _erase_and_check(company_database: Backend, scenario: Scenario, policy: Policy | None) -> None:
    with fresh_engine(*company_database) as engine:
        insert_rows(scenario.schema, engine, scenario.rows)
        before = snapshot(scenario.schema, engine)
        target = Target(dataset_of(scenario.schema), engine, policy=policy)
        with engine.connect() as conn:
            plan = target.plan(conn, scenario.identities, now=NOW)
        erasure = _erase(target, engine, scenario)
        after = snapshot(scenario.schema, engine)
        _check_erasure(scenario, before, after, erasure, policy=policy is not None)
        assert (plan.deleted, plan.kept) == (erasure.deleted, erasure.kept)
        again = _erase(target, engine, scenario)
        assert as_bytes(snapshot(scenario.schema, engine)) == as_bytes(after)
        assert not again.deleted


def test_erasure_masks_the_reachable_rows_leaves_the_rest_and_a_second_run_changes_nothing(
    company_database: Backend,
) -> None:
    """Without a policy nothing is held: every declared field of every reachable row goes."""
    _for_each_scenario(company_database, lambda s: _erase_and_check(company_database, s, None))


def test_erasure_keeps_what_a_legal_retention_rule_holds_and_only_that(
    company_database: Backend,
) -> None:
    """With Kestrel's policy, fields under financial_records (7 years) and project_data (5) are
    kept in rows whose clock has not run out or not started; testimonials has no legal basis."""
    _for_each_scenario(company_database, lambda s: _erase_and_check(company_database, s, KESTREL))
