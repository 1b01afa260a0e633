"""`troth worker` runs approved requests' jobs and queues reminders; `troth serve`'s app runs
the same worker in-process."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from apikey_support import MovingClock
from consent_support import NOW
from fastapi.testclient import TestClient
from rights_support import approved_request
from support import KESTREL
from test_cli_apikeys import troth

from troth.declaration import Policy
from troth.rights import get_request
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring, create_key_file
from troth.web import create_app


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Keyring]:
    monkeypatch.delenv("TROTH_MASTER_KEY", raising=False)
    path = tmp_path / "master.key"
    return path, Keyring(create_key_file(path))


def test_one_pass_runs_the_jobs_due(
    sqlite_url: str, kestrel_policy: Policy, key_file: tuple[Path, Keyring]
) -> None:
    path, keyring = key_file
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    request_id = approved_request(sessions, kestrel_policy, keyring, "restriction")
    args = ["--declaration", str(KESTREL), "--db", sqlite_url, "--key-file", str(path)]
    code, stdout, stderr = troth("worker", "--once", *args)
    assert code == 0, stderr
    assert "jobs done 1, retried 0, failed 0" in stdout
    with sessions() as session:
        assert get_request(session, request_id).state == "completed"
    code, stdout, _ = troth("worker", "--once", *args)
    assert code == 0 and "jobs done 0" in stdout
    engine.dispose()


def test_a_bad_database_url_is_a_message(key_file: tuple[Path, Keyring]) -> None:
    path, _ = key_file
    code, _, stderr = troth(
        "worker", "--once", "--declaration", str(KESTREL), "--db", "var/troth.db",
        "--key-file", str(path),
    )  # fmt: skip
    assert code == 1 and "not a database URL" in stderr


def test_the_server_runs_a_worker_in_process(
    sqlite_url: str, kestrel_policy: Policy, keyring: Keyring
) -> None:
    clock = MovingClock(NOW)
    app = create_app(
        kestrel_policy, sqlite_url, clock=clock, keyring=keyring, run_jobs=True,
        worker_interval=0.05,
    )  # fmt: skip
    with TestClient(app):
        sessions = app.state.site.sessions
        request_id = approved_request(sessions, kestrel_policy, keyring, "objection")
        state = ""
        for _ in range(400):  # a generous bound on waiting, not a measure of speed
            with sessions() as session:
                state = get_request(session, request_id).state
            if state == "completed":
                break
            time.sleep(0.05)
        assert state == "completed"
