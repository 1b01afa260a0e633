"""`troth apikey`: create, list and revoke the keys servers use to call the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import typer

from .app import DB_HELP, DEFAULT_DB, app, err, out
from .store import in_transaction_or_exit

if TYPE_CHECKING:
    from troth.apikeys import ApiKey

T = TypeVar("T")

# The actor of the audit events these commands write: whoever runs troth with the database URL.
CLI_ACTOR_ID = "troth.cli"

apikey_app = typer.Typer(
    help="API keys for servers calling the JSON API: create, list, revoke.", no_args_is_help=True
)
app.add_typer(apikey_app, name="apikey")


def _describe(key: ApiKey) -> str:
    name = f" ({key.name})" if key.name else ""
    return f"{key.id}{name}"


@apikey_app.command("create")
def apikey_create(
    scopes: list[str] = typer.Option(
        ..., "--scope", metavar="SCOPE", help="A scope to grant; repeat for more"
    ),
    name: str = typer.Option("", "--name", help="What the key is for, e.g. 'newsletter service'"),
    role: str | None = typer.Option(
        None,
        "--role",
        metavar="ROLE",
        help="The declared staff role a data:read key reads under (required with data:read)",
    ),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Create a key with the given scopes; print it once (only its hash is kept)."""
    from troth.apikeys import SCOPES, UnknownScope, checked_scopes, create_key
    from troth.audit import Actor

    try:
        checked_scopes(scopes)
        key, text = in_transaction_or_exit(
            db,
            lambda session: create_key(
                session,
                name=name,
                scopes=scopes,
                now=datetime.now(UTC),
                actor=Actor.system(CLI_ACTOR_ID),
                staff_role=role,
            ),
        )
    except UnknownScope as exc:
        err.print(f"error: unknown scope {exc.scope!r}. The scopes are:", markup=False)
        for scope, description in SCOPES.items():
            err.print(f"  {scope:<15} {description}", markup=False)
        raise typer.Exit(1) from None
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    # The key alone on standard output, so that `KEY=$(troth apikey create ...)` captures it.
    as_role = f", reading as staff role {key.staff_role}" if key.staff_role else ""
    err.print(
        f"created API key {_describe(key)} with scope(s) {', '.join(key.scopes)}{as_role}",
        markup=False,
    )
    typer.echo(text)
    err.print(
        "This is the only time the key is shown: troth keeps only a hash of it. Store it in your "
        "secret manager now; if it is lost, revoke it and create another.",
        markup=False,
    )


@apikey_app.command("list")
def apikey_list(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """List every key, revoked ones too: id, state, created, scopes, role, name (never the
    secret)."""
    from troth.apikeys import list_keys

    keys = in_transaction_or_exit(db, list_keys)
    if not keys:
        out.print("no API keys; create one with `troth apikey create --scope SCOPE`", markup=False)
        return
    rows = [("ID", "STATE", "CREATED", "SCOPES", "ROLE", "NAME")]
    for key in keys:
        state = f"revoked {_minute(key.revoked_at)}" if key.revoked_at else "active"
        scopes = ",".join(key.scopes)
        rows.append(
            (key.id, state, _minute(key.created_at), scopes, key.staff_role or "-", key.name)
        )
    # Plain aligned columns, never truncated or wrapped, so that ids can be copied and grepped.
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.print("  ".join([*cells, row[5]]).rstrip(), markup=False, highlight=False)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: str = typer.Argument(..., metavar="KEY_ID", help="The key's id, as `list` shows it"),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Revoke a key: calls with it are refused from then on. The key stays listed."""
    from troth.apikeys import DEFAULT_TTL, ApiKeyNotFound, parse_key, revoke_key
    from troth.audit import Actor

    # Someone may paste the whole key: its id is the part between the first two underscores.
    parts = parse_key(key_id)
    if parts is not None:
        key_id = parts[0]
    try:
        key, revoked = in_transaction_or_exit(
            db,
            lambda session: revoke_key(
                session, key_id, now=datetime.now(UTC), actor=Actor.system(CLI_ACTOR_ID)
            ),
        )
    except ApiKeyNotFound:
        err.print(
            f"error: there is no API key {key_id!r}; `troth apikey list` shows them", markup=False
        )
        raise typer.Exit(1) from None
    if not revoked:
        assert key.revoked_at is not None
        out.print(
            f"API key {_describe(key)} was already revoked on {_minute(key.revoked_at)}",
            markup=False,
        )
        return
    seconds = int(DEFAULT_TTL.total_seconds())
    out.print(
        f"revoked API key {_describe(key)}; running troth servers refuse it within {seconds} "
        "seconds",
        markup=False,
    )


def _minute(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""
