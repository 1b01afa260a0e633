"""`troth mail deliver`: one delivery pass over the outbox, outside the server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from troth.subjects.keys import DEFAULT_KEY_FILE
from troth.subjects.keys import ENV_VAR as KEY_ENV_VAR

from .app import DB_HELP, DEFAULT_DB, DEFAULT_DECLARATION, _load_or_exit, app, err, out

if TYPE_CHECKING:
    from troth.notify import Transport

mail_app = typer.Typer(help="Outgoing email: deliver what the outbox holds.", no_args_is_help=True)
app.add_typer(mail_app, name="mail")


def default_mail_directory(db: str) -> Path:
    """``var/mail`` beside a SQLite database file; ``var/mail`` here for other databases."""
    from troth.store import DatabaseURLError, parse_url

    try:
        url = parse_url(db)
    except DatabaseURLError:
        return Path("var/mail")
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "mail"
    return Path("var/mail")


def mail_settings_or_exit(
    declaration: Path, db: str, mail_dir: Path | None
) -> tuple[Transport, str]:
    """The transport (TROTH_SMTP_URL, else the mail directory) and the sender address
    (TROTH_MAIL_FROM, else the declaration's contact); exit 1 if either cannot be set up."""
    import os

    from troth.notify import (
        MAIL_FROM_ENV,
        SenderError,
        TransportConfigError,
        choose_transport,
        mail_from,
    )

    try:
        transport = choose_transport(mail_dir or default_mail_directory(db))
    except TransportConfigError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    policy = None if os.environ.get(MAIL_FROM_ENV, "").strip() else _load_or_exit(declaration)
    try:
        sender = mail_from(policy)
    except SenderError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    return transport, sender


@mail_app.command("deliver")
def mail_deliver(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    key_file: Path = typer.Option(
        DEFAULT_KEY_FILE, "--key-file", help=f"Master key file (unless {KEY_ENV_VAR} is set)"
    ),
    declaration: Path = typer.Option(
        DEFAULT_DECLARATION,
        "--declaration",
        help="Declaration whose contact email is the sender (unless TROTH_MAIL_FROM is set)",
    ),
    mail_dir: Path | None = typer.Option(
        None,
        "--mail-dir",
        help="Directory for .eml files when TROTH_SMTP_URL is not set [default: var/mail "
        "beside the database]",
    ),
) -> None:
    """Send every message that is due, once; print how many were sent, deferred and failed."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.notify import deliver_due
    from troth.notify.delivery import pending_count
    from troth.store import DatabaseURLError, display_url, make_engine, make_sessionmaker, upgrade
    from troth.subjects import KeyMaterialError, Keyring, load_master_key

    try:
        keyring = Keyring(load_master_key(key_file))
    except KeyMaterialError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    transport, sender = mail_settings_or_exit(declaration, db, mail_dir)
    try:
        engine = make_engine(db)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        report = deliver_due(sessions, transport, datetime.now(UTC), keyring=keyring, sender=sender)
        with sessions() as session:
            waiting = pending_count(session)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(f"error: database {display_url(db)}: {reason}", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    out.print(
        f"sent {report.sent}, deferred {report.deferred}, failed {report.failed} "
        f"through {transport.description}; {waiting} waiting",
        markup=False,
    )
