"""Shared fixtures: the Kestrel example's policies, database URLs, the consent ledger and API."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from apikey_support import MovingClock
from audit_support import migrated_engine
from consent_api_support import (
    ConsentApi,
    assert_logs_hold_no_personal_data,
    capture_logs,
    database_url,
    serve,
)
from consent_support import EMAIL, new_subject
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from support import ROOT

from troth.declaration import Policy, load_policy
from troth.store import display_url, make_engine, make_sessionmaker
from troth.subjects import Keyring, MasterKey

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_MARIADB_URL = "mysql+pymysql://root@127.0.0.1:3306/test"
KESTREL_HISTORY = sorted((ROOT / "examples" / "kestrel" / "history").glob("*.yaml"))


@pytest.fixture(scope="session")
def kestrel_policy() -> Policy:
    """The Kestrel example as served by `make run` (version 3.0)."""
    return load_policy(ROOT / "examples" / "kestrel" / "privacy.yaml")


@pytest.fixture(scope="session")
def kestrel_history() -> list[Policy]:
    """Kestrel's earlier versions (1.0, 2.0), oldest first."""
    return [load_policy(path) for path in KESTREL_HISTORY]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'var' / 'troth.db'}"


def reachable_server(variable: str, default: str, name: str) -> str:
    """The URL of the server ``variable`` names (else ``default``) once a connection to it
    works; the test is skipped with the reason when none does, and failed under CI=true."""
    url = os.environ.get(variable, default)
    engine = None
    try:
        engine = make_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the server means the same thing here
        reason = (
            f"{name} is not reachable at {display_url(url)} ({type(exc).__name__}); "
            f"start one or set {variable}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        if engine is not None:
            engine.dispose()
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL server (TROTH_TEST_POSTGRES_URL); skipped if none, failed on CI."""
    return reachable_server("TROTH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL, "PostgreSQL")


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    """A reachable MariaDB (or MySQL) server (TROTH_TEST_MARIADB_URL); skipped if none, failed
    on CI."""
    return reachable_server("TROTH_TEST_MARIADB_URL", DEFAULT_MARIADB_URL, "MariaDB")


@pytest.fixture(
    scope="session",
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def company_database(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """A backend for a company's own database (troth.datasets) and its server's URL: SQLite
    always, PostgreSQL and MariaDB when reachable (required on CI). Tests take a fresh database
    from it with dataset_backends.fresh_engine."""
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("postgres_url")
    if request.param == "mariadb":
        return "mariadb", request.getfixturevalue("mariadb_url")
    return "sqlite", None


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(MasterKey.generate())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty troth database: a SQLite file, then a throwaway PostgreSQL schema."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with migrated_engine(request.param, tmp_path, url) as engine:
        yield engine


@pytest.fixture
def sessions(ledger_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(ledger_engine)


@pytest.fixture
def subject(sessions: sessionmaker[Session], keyring: Keyring) -> str:
    with sessions.begin() as session:
        return new_subject(session, keyring, EMAIL)


# The consent and decision routes of /api/v1 ----------------------------------------------------


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request, tmp_path) as url:
        yield url


@pytest.fixture
def api(kestrel_policy: Policy, database: str, clock: MovingClock) -> Iterator[ConsentApi]:
    with serve(kestrel_policy, database, clock) as api:
        yield api


@pytest.fixture
def no_personal_data_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """For every test of a module that asks for it with
    ``pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")``."""
    capture_logs(caplog)
    yield
    assert_logs_hold_no_personal_data(caplog)
