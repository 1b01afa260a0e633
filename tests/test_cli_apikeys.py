"""`troth apikey create`, `list` and `revoke`."""

from __future__ import annotations

import pytest
from apikey_support import database_text
from sqlalchemy import select
from typer.testing import CliRunner

from troth.apikeys import SCOPES, authenticate, parse_key
from troth.audit import AuditEvent, verify_chain
from troth.cli import app
from troth.store import make_engine, make_sessionmaker

runner = CliRunner()


def troth(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def create(db: str, *args: str) -> str:
    code, stdout, stderr = troth("apikey", "create", *args, "--db", db)
    assert code == 0, stderr
    return stdout.strip()


def key_id_of(text: str) -> str:
    parts = parse_key(text)
    assert parts is not None, text
    return parts[0]


def audit_actions(db: str) -> list[tuple[str, str, dict[str, object]]]:
    engine = make_engine(db)
    with make_sessionmaker(engine)() as session:
        assert verify_chain(session).ok
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        found = [(e.action, e.actor_id, e.details) for e in rows]
    engine.dispose()
    return found


def test_create_prints_the_key_alone_on_stdout_and_warns_on_stderr(sqlite_url: str) -> None:
    code, stdout, stderr = troth(
        "apikey", "create", "--scope", "decide", "--scope", "consent:write",
        "--name", "newsletter service", "--db", sqlite_url,
    )  # fmt: skip
    assert code == 0, stderr
    text = stdout.strip()
    assert stdout == text + "\n"
    parts = parse_key(text)
    assert parts is not None, stdout
    key_id, secret = parts
    assert f"created API key {key_id} (newsletter service)" in stderr
    assert "consent:write, decide" in stderr
    assert "only time the key is shown" in stderr
    assert text not in stderr
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        key = authenticate(session, text)
        assert key is not None
        assert (key.id, key.name, key.scopes) == (
            key_id,
            "newsletter service",
            ["consent:write", "decide"],
        )
    stored = database_text(engine)
    engine.dispose()
    assert secret not in stored
    assert audit_actions(sqlite_url) == [
        ("apikey.created", "troth.cli", {"key_id": key_id, "scopes": ["consent:write", "decide"]})
    ]


def test_an_unknown_scope_exits_1_listing_the_scopes_and_creates_nothing(sqlite_url: str) -> None:
    code, stdout, stderr = troth(
        "apikey", "create", "--scope", "decide", "--scope", "consent:delete", "--db", sqlite_url
    )
    assert code == 1
    assert stdout == ""
    assert "error: unknown scope 'consent:delete'" in stderr
    for scope, description in SCOPES.items():
        assert scope in stderr and description in stderr
    assert "Traceback" not in stderr
    code, stdout, _ = troth("apikey", "list", "--db", sqlite_url)
    assert (code, stdout.strip()) == (
        0,
        "no API keys; create one with `troth apikey create --scope SCOPE`",
    )


def test_create_needs_a_scope(sqlite_url: str) -> None:
    code, stdout, stderr = troth("apikey", "create", "--db", sqlite_url)
    assert code == 2
    assert "--scope" in stderr
    assert stdout == ""


def test_an_unusable_name_exits_1(sqlite_url: str) -> None:
    code, stdout, stderr = troth(
        "apikey", "create", "--scope", "decide", "--name", "x" * 101, "--db", sqlite_url
    )
    assert code == 1
    assert stdout == ""
    assert "error: an API key's name is at most 100 characters" in stderr


def test_list_shows_ids_states_scopes_and_names_but_no_secret(sqlite_url: str) -> None:
    first = create(sqlite_url, "--scope", "decide", "--name", "shop backend")
    second = create(sqlite_url, "--scope", "consent:read", "--scope", "subjects:read")
    code, _, stderr = troth("apikey", "revoke", key_id_of(second), "--db", sqlite_url)
    assert code == 0, stderr
    code, stdout, _ = troth("apikey", "list", "--db", sqlite_url)
    assert code == 0
    header, row_one, row_two = stdout.splitlines()
    assert header.split() == ["ID", "STATE", "CREATED", "SCOPES", "ROLE", "NAME"]
    first_id, first_secret = parse_key(first) or ("", "")
    second_id, second_secret = parse_key(second) or ("", "")
    assert row_one.startswith(f"{first_id}  active ")
    assert row_one.split()[-4:] == ["decide", "-", "shop", "backend"]
    assert row_two.startswith(f"{second_id}  revoked 20")
    assert "consent:read,subjects:read" in row_two
    assert first_secret not in stdout and second_secret not in stdout


def test_revoke_refuses_the_key_from_then_on_and_is_audited(sqlite_url: str) -> None:
    text = create(sqlite_url, "--scope", "decide")
    key_id = key_id_of(text)
    code, stdout, _ = troth("apikey", "revoke", key_id, "--db", sqlite_url)
    assert code == 0
    assert f"revoked API key {key_id}; running troth servers refuse it within 5 seconds" in stdout
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        assert authenticate(session, text) is None
    engine.dispose()
    code, stdout, _ = troth("apikey", "revoke", key_id, "--db", sqlite_url)
    assert code == 0
    assert f"API key {key_id} was already revoked on 20" in stdout
    assert [action for action, _, _ in audit_actions(sqlite_url)] == [
        "apikey.created",
        "apikey.revoked",
    ]
    assert audit_actions(sqlite_url)[1] == ("apikey.revoked", "troth.cli", {"key_id": key_id})


def test_revoke_accepts_the_whole_key(sqlite_url: str) -> None:
    text = create(sqlite_url, "--scope", "decide")
    code, stdout, _ = troth("apikey", "revoke", text, "--db", sqlite_url)
    assert code == 0
    assert f"revoked API key {key_id_of(text)};" in stdout


def test_revoking_an_unknown_key_exits_1(sqlite_url: str) -> None:
    create(sqlite_url, "--scope", "decide")
    code, stdout, stderr = troth("apikey", "revoke", "nosuchkey", "--db", sqlite_url)
    assert code == 1
    assert stdout == ""
    assert "error: there is no API key 'nosuchkey'; `troth apikey list` shows them" in stderr
    assert [action for action, _, _ in audit_actions(sqlite_url)] == ["apikey.created"]


@pytest.mark.parametrize("command", [["create", "--scope", "decide"], ["list"], ["revoke", "x"]])
def test_an_unusable_database_url_exits_1(command: list[str]) -> None:
    code, _, stderr = troth("apikey", *command, "--db", "nosuchdriver://x")
    assert code == 1
    assert stderr.startswith("error: no database driver for 'nosuchdriver'")


def test_the_database_is_read_from_troth_db(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TROTH_DB", sqlite_url)
    code, stdout, _ = troth("apikey", "create", "--scope", "decide", "--name", "from env")
    assert code == 0
    code, listed, _ = troth("apikey", "list")
    assert code == 0
    assert "from env" in listed
    assert key_id_of(stdout.strip()) in listed
