"""Migrations and policy versions on a real PostgreSQL server (TROTH_TEST_POSTGRES_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pg_support import postgres_schema
from sqlalchemy import inspect, text
from support import dump, kestrel_data

from troth.declaration import Policy, read_declaration
from troth.publishing import VersionConflict, list_versions, publish, record_version
from troth.store import downgrade, make_engine, make_sessionmaker, upgrade

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def schema_url(postgres_url: str) -> Iterator[str]:
    with postgres_schema(postgres_url) as url:
        yield url


def test_migrations_and_versions_on_postgresql(
    schema_url: str, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    engine = make_engine(schema_url)
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent
        with engine.connect() as connection:
            assert connection.execute(text("SELECT current_schema()")).scalar() in schema_url
        assert "policy_versions" in inspect(engine).get_table_names()

        results = publish(engine, [*kestrel_history, kestrel_policy], NOW)
        assert [created for _, created in results] == [True, True, True]
        with make_sessionmaker(engine)() as session:
            again, created = record_version(session, kestrel_policy, NOW + timedelta(days=1))
            assert created is False
            assert again.recorded_at == NOW
            assert again.recorded_at.utcoffset() == timedelta(0)
            assert [row.version for row in list_versions(session)] == ["3.0", "2.0", "1.0"]

            data = kestrel_data()
            data["policy"]["summary"] = "Quietly changed."
            changed, problems = read_declaration(dump(data), "changed.yaml")
            assert changed is not None, problems
            with pytest.raises(VersionConflict, match=r"version 3\.0 was already published"):
                record_version(session, changed, NOW)
            session.rollback()

        downgrade(engine)
        assert "policy_versions" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
