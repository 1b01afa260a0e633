"""Choosing where mail goes and who it is from, `troth mail deliver`, and the server's loop."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from apikey_support import MovingClock
from consent_support import STAFF
from fastapi.testclient import TestClient
from notify_support import NOBODY, REVIEW, Inbox, free_port, smtp_server
from typer.testing import CliRunner

from troth.cli import app
from troth.cli.mail import default_mail_directory
from troth.declaration import Policy
from troth.notify import (
    DeliveryLoop,
    DirectoryTransport,
    SenderError,
    SMTPTransport,
    TransportConfigError,
    choose_transport,
    enqueue,
    mail_from,
)
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring, MasterKey
from troth.web import create_app

runner = CliRunner()


@pytest.mark.parametrize(
    ("url", "security", "host", "port", "user", "password"),
    [
        ("smtp://mail.example.com", "none", "mail.example.com", 25, None, None),
        ("smtp://127.0.0.1:2525", "none", "127.0.0.1", 2525, None, None),
        ("smtp+starttls://u:p@mail.example.com", "starttls", "mail.example.com", 587, "u", "p"),
        ("smtps://ops%40kestrel:s%3Ac@smtp.example.com", "tls", "smtp.example.com", 465,
         "ops@kestrel", "s:c"),
    ],
)  # fmt: skip
def test_smtp_urls(
    url: str, security: str, host: str, port: int, user: str | None, password: str | None
) -> None:
    transport = SMTPTransport.from_url(url)
    assert (transport.security, transport.host, transport.port) == (security, host, port)
    assert (transport.username, transport._password) == (user, password)
    assert "p@" not in transport.description and "s:c" not in transport.description


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.com", "is not one of"),
        ("mail.example.com", "is not one of"),
        ("smtp://", "no host"),
        ("smtp://user:hunter2@mail.example.com:99999", "port"),
    ],
)
def test_bad_smtp_urls_say_why_without_the_password(url: str, message: str) -> None:
    with pytest.raises(TransportConfigError, match=message) as raised:
        SMTPTransport.from_url(url)
    assert "hunter2" not in str(raised.value)


def test_the_transport_is_smtp_when_the_variable_is_set(tmp_path: Path) -> None:
    smtp = choose_transport(tmp_path, {"TROTH_SMTP_URL": "smtp://mail.example.com"})
    assert isinstance(smtp, SMTPTransport)
    directory = choose_transport(tmp_path, {"TROTH_SMTP_URL": "  "})
    assert isinstance(directory, DirectoryTransport) and directory.directory == tmp_path


def test_the_mail_directory_is_beside_a_sqlite_database() -> None:
    assert default_mail_directory("sqlite:///var/troth.db") == Path("var/mail")
    assert default_mail_directory("sqlite:////srv/troth/troth.db") == Path("/srv/troth/mail")
    assert default_mail_directory("postgresql://troth@db/troth") == Path("var/mail")


def test_the_sender_is_the_variable_else_the_declarations_contact(
    kestrel_policy: Policy,
) -> None:
    assert mail_from(kestrel_policy, {}) == "Kestrel Software <hello@kestrel.example>"
    assert mail_from(kestrel_policy, {"TROTH_MAIL_FROM": "ops@kestrel.example"}) == (
        "ops@kestrel.example"
    )
    assert mail_from(None, {"TROTH_MAIL_FROM": "Kestrel Privacy <privacy@kestrel.example>"}) == (
        "Kestrel Privacy <privacy@kestrel.example>"
    )
    with pytest.raises(SenderError, match="TROTH_MAIL_FROM is not an email address"):
        mail_from(kestrel_policy, {"TROTH_MAIL_FROM": "Kestrel"})
    with pytest.raises(SenderError, match="set TROTH_MAIL_FROM"):
        mail_from(None, {})


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server: object, session: object, envelope: object, mechanism: str,
                 auth_data: object) -> AuthResult:  # fmt: skip
        assert isinstance(auth_data, LoginPassword)
        login = (auth_data.login.decode(), auth_data.password.decode())
        self.seen.append(login)
        return AuthResult(success=login == ("mailer", "p@ss:word"))


@pytest.fixture
def smtp_with_login() -> Iterator[tuple[Inbox, Logins, int]]:
    inbox, logins, port = Inbox(), Logins(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=logins, auth_require_tls=False
    )
    controller.start()
    yield inbox, logins, port
    controller.stop()


def test_smtp_login_with_the_urls_user_and_password(
    smtp_with_login: tuple[Inbox, Logins, int],
) -> None:
    from email.message import EmailMessage

    inbox, logins, port = smtp_with_login
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.com", NOBODY, "hello"
    message.set_content("hello")
    SMTPTransport.from_url(f"smtp://mailer:p%40ss%3Aword@127.0.0.1:{port}").send(message)
    assert logins.seen == [("mailer", "p@ss:word")]
    assert [r.recipients for r in inbox.received] == [[NOBODY]]


def queue_one(db: str, keyring: Keyring) -> str:
    engine = make_engine(db)
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        message_id = enqueue(
            session,
            keyring=keyring,
            to=NOBODY,
            template="publication_review",
            context=REVIEW,
            now=MovingClock().now,
            actor=STAFF,
        ).id
    engine.dispose()
    return message_id


def test_troth_mail_deliver_writes_to_var_mail_beside_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "master.key"
    assert runner.invoke(app, ["keys", "create", "--file", str(key_file)]).exit_code == 0
    from troth.subjects import read_key_file

    keyring = Keyring(read_key_file(key_file))
    db = f"sqlite:///{tmp_path / 'var' / 'troth.db'}"
    message_id = queue_one(db, keyring)
    monkeypatch.delenv("TROTH_SMTP_URL", raising=False)
    monkeypatch.setenv("TROTH_MAIL_FROM", "Kestrel <hello@kestrel.example>")
    result = runner.invoke(app, ["mail", "deliver", "--db", db, "--key-file", str(key_file)])
    assert result.exit_code == 0, result.stderr
    assert "sent 1, deferred 0, failed 0" in result.stdout
    assert "0 waiting" in result.stdout
    [file] = (tmp_path / "var" / "mail").iterdir()
    assert file.name.startswith(message_id)
    again = runner.invoke(app, ["mail", "deliver", "--db", db, "--key-file", str(key_file)])
    assert "sent 0, deferred 0, failed 0" in again.stdout


def test_troth_mail_deliver_sends_through_troth_smtp_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kestrel_policy: Policy
) -> None:
    secret = os.urandom(32)
    keyring = Keyring(MasterKey(secret))
    monkeypatch.setenv("TROTH_MASTER_KEY", base64.b64encode(secret).decode())
    db = f"sqlite:///{tmp_path / 'troth.db'}"
    queue_one(db, keyring)
    monkeypatch.delenv("TROTH_MAIL_FROM", raising=False)
    declaration = Path(__file__).parents[1] / "examples" / "kestrel" / "privacy.yaml"
    with smtp_server() as (inbox, url):
        monkeypatch.setenv("TROTH_SMTP_URL", url)
        result = runner.invoke(
            app, ["mail", "deliver", "--db", db, "--declaration", str(declaration)]
        )
    assert result.exit_code == 0, result.stderr
    assert [r.message["From"] for r in inbox.received] == [
        "Kestrel Software <hello@kestrel.example>"
    ]
    assert not (tmp_path / "mail").exists()


def test_troth_mail_deliver_refuses_a_bad_smtp_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TROTH_MASTER_KEY", base64.b64encode(b"k" * 32).decode())
    monkeypatch.setenv("TROTH_SMTP_URL", "http://user:hunter2@mail.example.com")
    result = runner.invoke(app, ["mail", "deliver", "--db", f"sqlite:///{tmp_path / 't.db'}"])
    assert result.exit_code == 1
    assert "is not one of" in result.stderr and "hunter2" not in result.stderr


def test_the_server_delivers_the_outbox_in_the_background(
    tmp_path: Path, kestrel_policy: Policy
) -> None:
    keyring = Keyring(MasterKey.generate())
    db = f"sqlite:///{tmp_path / 'troth.db'}"
    queue_one(db, keyring)
    mail = tmp_path / "mail"
    application = create_app(
        kestrel_policy,
        db,
        keyring=keyring,
        clock=MovingClock(),
        transport=DirectoryTransport(mail),
        mail_from="Kestrel <hello@kestrel.example>",
        delivery_interval=0.05,
    )
    with TestClient(application):
        # Waiting for another thread is unavoidable here; the test asserts no duration.
        for _ in range(200):
            if mail.exists() and any(mail.iterdir()):
                break
            time.sleep(0.05)
    assert len(list(mail.iterdir())) == 1


def test_the_delivery_loop_goes_on_after_a_failed_pass(caplog: pytest.LogCaptureFixture) -> None:
    passes: list[int] = []
    done = threading.Event()

    def run_pass() -> None:
        passes.append(1)
        if len(passes) == 1:
            raise RuntimeError("database unreachable: postgresql://troth:secret@db")
        done.set()

    loop = DeliveryLoop(run_pass, interval=0.01)
    loop.start()
    assert done.wait(30), "the loop stopped after the failed pass"
    loop.stop()
    assert len(passes) >= 2
    [record] = [r for r in caplog.records if "delivery pass failed" in r.getMessage()]
    assert "RuntimeError" in record.getMessage() and "secret" not in record.getMessage()
