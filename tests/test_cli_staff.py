"""`troth staff create`, `list` and `disable`."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from apikey_support import database_text
from sqlalchemy import select
from typer.testing import CliRunner

from troth.audit import AuditEvent, verify_chain
from troth.cli import app
from troth.staff import (
    code_at,
    email_of,
    find_account,
    matching_step,
    password_matches,
    step_at,
    totp_secret_of,
)
from troth.store import make_engine, make_sessionmaker
from troth.subjects import ENV_VAR, Keyring, MasterKey

PASSWORD = "paper lantern over the harbour"
EMAIL = "Ada.Admin@Example.org"
runner = CliRunner()


class Master:
    """A master key as `TROTH_MASTER_KEY` text and as the keyring the tests read with."""

    def __init__(self) -> None:
        secret = os.urandom(32)
        self.text = base64.b64encode(secret).decode("ascii")
        self.keyring = Keyring(MasterKey(secret))


@pytest.fixture
def master() -> Master:
    return Master()


def troth(master: Master, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin, env={ENV_VAR: master.text})
    return result.exit_code, result.stdout, result.stderr


def create(master: Master, db: str, email: str = EMAIL, *args: str) -> str:
    code, stdout, stderr = troth(
        master, "staff", "create", email, "--password-stdin", "--db", db, *args,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0, stderr
    return stdout


def audit(db: str) -> list[tuple[str, str, dict[str, object]]]:
    engine = make_engine(db)
    with make_sessionmaker(engine)() as session:
        assert verify_chain(session).ok
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        found = [(event.action, event.actor_id, event.details) for event in rows]
    engine.dispose()
    return found


def test_create_stores_the_account_and_prints_its_enrolment_once(
    master: Master, sqlite_url: str
) -> None:
    stdout = create(master, sqlite_url, EMAIL, "--role", "admin", "--name", "Ada Lovelace")
    assert "created staff account" in stdout and "(Ada Lovelace, admin)" in stdout
    assert "▄" in stdout or "█" in stdout  # the QR code, drawn with block characters
    uri = next(line for line in stdout.splitlines() if line.startswith("otpauth://"))
    parts = urlsplit(uri)
    assert parts.path == "/troth%20console%3Aada.admin%40example.org"
    printed = parse_qs(parts.query)["secret"][0]
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        account = find_account(session, master.keyring, "ada.admin@example.org")
        assert account is not None
        assert account.role == "admin" and account.display_name == "Ada Lovelace"
        assert account.totp_enrolled_at is None
        assert password_matches(account.password_hash, PASSWORD)
        assert email_of(master.keyring, account) == "ada.admin@example.org"
        secret = totp_secret_of(master.keyring, account)
        assert base64.b32decode(printed + "=" * (-len(printed) % 8)) == secret
        account_id = account.id
    # The authenticator app's code, computed from what was printed, is the account's code.
    now = datetime.now(UTC)
    assert matching_step(secret, code_at(secret, step_at(now)), now, last_used_step=None)
    stored = database_text(engine)
    engine.dispose()
    assert "ada.admin" not in stored.lower() and PASSWORD not in stored and printed not in stored
    assert audit(sqlite_url)[-1] == (
        "staff.account_created",
        "troth.cli",
        {"staff_id": account_id, "role": "admin"},
    )


def test_create_asks_for_the_password_twice_hidden(master: Master, sqlite_url: str) -> None:
    code, _, stderr = troth(
        master, "staff", "create", EMAIL, "--role", "auditor", "--db", sqlite_url,
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, stderr
    assert "Password (at least 12 characters)" in stderr and "Repeat the password" in stderr
    assert PASSWORD not in stderr  # hidden input is not echoed


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "owner"], PASSWORD, "unknown role 'owner'"),
        (["--role", "admin"], "short\n", "at least 12 characters"),
        (["--role", "admin"], "password1234\n", "most common"),
    ],
)
def test_create_refuses_bad_input_and_creates_nothing(
    master: Master, sqlite_url: str, args: list[str], stdin: str, message: str
) -> None:
    code, _, stderr = troth(
        master, "staff", "create", EMAIL, "--password-stdin", "--db", sqlite_url, *args,
        stdin=stdin,
    )  # fmt: skip
    assert code == 1 and message in stderr
    assert stdin.strip() not in stderr  # the password is never echoed
    code, stdout, _ = troth(master, "staff", "list", "--db", sqlite_url)
    assert "no staff accounts" in stdout


def test_create_refuses_a_second_account_for_an_address(master: Master, sqlite_url: str) -> None:
    create(master, sqlite_url, EMAIL, "--role", "admin")
    code, _, stderr = troth(
        master, "staff", "create", EMAIL.upper(), "--role", "agent", "--password-stdin",
        "--db", sqlite_url, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 1 and "already exists" in stderr


def test_an_unusable_address_or_missing_key_is_an_error(sqlite_url: str) -> None:
    result = runner.invoke(
        app, ["staff", "create", "not an address", "--role", "admin", "--db", sqlite_url]
    )
    assert result.exit_code == 1 and "email" in result.stderr
    result = runner.invoke(
        app,
        ["staff", "list", "--db", sqlite_url, "--key-file", "/nonexistent/master.key"],
        env={ENV_VAR: ""},
    )
    assert result.exit_code == 1


def test_list_and_disable(master: Master, sqlite_url: str) -> None:
    create(master, sqlite_url, EMAIL, "--role", "admin", "--name", "Ada Lovelace")
    create(master, sqlite_url, "grace@example.org", "--role", "agent")
    code, stdout, _ = troth(master, "staff", "list", "--db", sqlite_url)
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].split() == ["ID", "ROLE", "STATE", "CREATED", "EMAIL", "NAME"]
    assert "admin" in lines[1] and "not enrolled" in lines[1]
    assert lines[1].endswith("ada.admin@example.org  Ada Lovelace")
    assert lines[2].split()[-2:] == ["grace@example.org", "grace"]
    code, stdout, _ = troth(master, "staff", "disable", "GRACE@example.org", "--db", sqlite_url)
    assert code == 0 and "disabled staff account" in stdout
    code, stdout, _ = troth(master, "staff", "disable", "grace@example.org", "--db", sqlite_url)
    assert code == 0 and "was already disabled" in stdout
    code, _, stderr = troth(master, "staff", "disable", "nobody@example.org", "--db", sqlite_url)
    assert code == 1 and "no staff account has this email address" in stderr
    code, stdout, _ = troth(master, "staff", "list", "--db", sqlite_url)
    assert "disabled 20" in stdout.splitlines()[2]
    events = audit(sqlite_url)
    assert [action for action, *_ in events] == [
        "staff.account_created",
        "staff.account_created",
        "staff.account_disabled",
    ]
    assert all(actor == "troth.cli" for _, actor, _ in events)
    assert not any("@" in str(details) for *_, details in events)
