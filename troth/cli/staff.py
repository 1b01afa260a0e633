"""`troth staff`: the privacy team's console accounts: create (the first admin), list, disable."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from troth.subjects.keys import DEFAULT_KEY_FILE
from troth.subjects.keys import ENV_VAR as KEY_ENV_VAR

from .apikeys import CLI_ACTOR_ID, _minute
from .app import DB_HELP, DEFAULT_DB, app, err, out
from .store import in_transaction_or_exit

if TYPE_CHECKING:
    from troth.staff import StaffAccount
    from troth.subjects import Keyring

staff_app = typer.Typer(
    help="Console accounts of the privacy team: create, list, disable.", no_args_is_help=True
)
app.add_typer(staff_app, name="staff")

KEY_FILE_HELP = f"Master key file (unless {KEY_ENV_VAR} is set)"


def _keyring_or_exit(key_file: Path) -> Keyring:
    from troth.subjects import KeyMaterialError, Keyring, load_master_key

    try:
        return Keyring(load_master_key(key_file))
    except KeyMaterialError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    password: str = typer.prompt(
        "Password (at least 12 characters)",
        hide_input=True,
        confirmation_prompt="Repeat the password",
        err=True,
    )
    return password


@staff_app.command("create")
def staff_create(
    email: str = typer.Argument(..., metavar="EMAIL", help="The person's email address"),
    role: str = typer.Option(
        ..., "--role", help="admin, privacy_officer, agent or auditor", metavar="ROLE"
    ),
    name: str = typer.Option("", "--name", help="Display name shown in the console"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of standard input"
    ),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    key_file: Path = typer.Option(DEFAULT_KEY_FILE, "--key-file", help=KEY_FILE_HELP),
) -> None:
    """Create a console account; print its one-time TOTP enrolment (URI and QR code)."""
    import segno

    from troth.audit import Actor
    from troth.staff import (
        StaffAccountExists,
        UnknownRole,
        WeakPassword,
        check_password_policy,
        create_account,
        normalised_email,
        parse_role,
        provisioning_uri,
    )

    try:
        parsed_role = parse_role(role)
        normalised_email(email)
    except (UnknownRole, ValueError) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    keyring = _keyring_or_exit(key_file)
    password = _read_password(password_stdin)
    try:
        check_password_policy(password)
        account, secret = in_transaction_or_exit(
            db,
            lambda session: _with_secret(
                keyring,
                create_account(
                    session,
                    keyring,
                    email=email,
                    role=parsed_role,
                    password=password,
                    display_name=name,
                    now=datetime.now(UTC),
                    actor=Actor.system(CLI_ACTOR_ID),
                ),
            ),
        )
    except (WeakPassword, StaffAccountExists, ValueError) as exc:
        err.print(f"error: {exc}; no account was created", markup=False)
        raise typer.Exit(1) from None
    uri = provisioning_uri(secret, account_label=normalised_email(email))
    qr = io.StringIO()
    segno.make(uri, error="m").terminal(out=qr, compact=True)
    out.print(
        f"created staff account {account.id} ({account.display_name}, {account.role})",
        markup=False,
    )
    out.print(
        "Scan this QR code with an authenticator app, or enter the URI below. It is shown this "
        "once; the first sign-in at /console asks for a code to confirm it.",
        markup=False,
    )
    out.print(qr.getvalue(), markup=False, highlight=False, end="")
    out.print(uri, markup=False, highlight=False)


def _with_secret(keyring: Keyring, account: StaffAccount) -> tuple[StaffAccount, bytes]:
    from troth.staff import totp_secret_of

    return account, totp_secret_of(keyring, account)


@staff_app.command("list")
def staff_list(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    key_file: Path = typer.Option(DEFAULT_KEY_FILE, "--key-file", help=KEY_FILE_HELP),
) -> None:
    """List every account: id, role, state, created, email, name."""
    from troth.staff import email_of, is_locked, list_accounts

    keyring = _keyring_or_exit(key_file)
    accounts = in_transaction_or_exit(db, list_accounts)
    if not accounts:
        out.print(
            "no staff accounts; create the first with `troth staff create EMAIL --role admin`",
            markup=False,
        )
        return
    now = datetime.now(UTC)
    rows = [("ID", "ROLE", "STATE", "CREATED", "EMAIL", "NAME")]
    for account in accounts:
        if account.disabled_at:
            state = f"disabled {_minute(account.disabled_at)}"
        elif is_locked(account, now):
            state = "locked"
        elif account.totp_enrolled_at is None:
            state = "not enrolled"
        else:
            state = "active"
        rows.append(
            (
                account.id,
                account.role,
                state,
                _minute(account.created_at),
                email_of(keyring, account),
                account.display_name,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.print("  ".join([*cells, row[5]]).rstrip(), markup=False, highlight=False)


@staff_app.command("disable")
def staff_disable(
    email: str = typer.Argument(..., metavar="EMAIL", help="The account's email address"),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    key_file: Path = typer.Option(DEFAULT_KEY_FILE, "--key-file", help=KEY_FILE_HELP),
) -> None:
    """Disable an account and end its sessions; it stays listed and in the audit trail."""
    from troth.audit import Actor
    from troth.staff import StaffAccountNotFound, disable_account

    keyring = _keyring_or_exit(key_file)
    try:
        account, disabled = in_transaction_or_exit(
            db,
            lambda session: disable_account(
                session, keyring, email, now=datetime.now(UTC), actor=Actor.system(CLI_ACTOR_ID)
            ),
        )
    except StaffAccountNotFound as exc:
        err.print(f"error: {exc}; `troth staff list` shows them", markup=False)
        raise typer.Exit(1) from None
    if not disabled:
        out.print(f"staff account {account.id} was already disabled", markup=False)
        return
    out.print(f"disabled staff account {account.id}; its console sessions have ended", markup=False)
