"""`troth clients override|overrides|clear`: the retention periods agreed with the company's
clients, for the rules that allow them (``per_client_override: true``). See docs/retention.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from .apikeys import CLI_ACTOR_ID
from .app import DB_HELP, DEFAULT_DB, DEFAULT_DECLARATION, _load_or_exit, app, err, out
from .retention import DECLARATION_HELP, _minute, _wide
from .store import in_transaction_or_exit

clients_app = typer.Typer(
    help="Retention periods agreed per client: set (override), list (overrides), clear.",
    no_args_is_help=True,
)
app.add_typer(clients_app, name="clients")

_ARGUMENTS = {"client": "CLIENT", "rule": "RULE", "period": "PERIOD"}


def updated(n: int) -> str:
    return f"{n} item got a new deadline" if n == 1 else f"{n} items got a new deadline"


@clients_app.command("override")
def clients_override(
    client: str = typer.Argument(..., metavar="CLIENT", help="The client's key"),
    rule: str = typer.Argument(..., metavar="RULE", help="A rule with per_client_override"),
    period: str = typer.Argument(..., metavar="PERIOD", help="ISO 8601: P90D, P1Y, P18M"),
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help=DECLARATION_HELP),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Set the period agreed with CLIENT for RULE; recompute its items' deadlines."""
    from troth.audit import Actor
    from troth.vault import OverrideRefused, set_override

    policy = _load_or_exit(declaration)
    try:
        changed = in_transaction_or_exit(
            db,
            lambda session: set_override(
                session,
                policy,
                client=client,
                rule=rule,
                period=period,
                now=datetime.now(UTC),
                actor=Actor.system(CLI_ACTOR_ID),
            ),
        )
    except OverrideRefused as exc:
        err.print(
            f"error: {_ARGUMENTS[exc.field]}: {exc.message}; nothing was changed", markup=False
        )
        raise typer.Exit(1) from None
    assert changed.period is not None
    before = f" (was {changed.previous.iso()})" if changed.previous is not None else ""
    out.print(
        f"client {client}: {rule} kept for {changed.period.iso()}{before}; "
        f"{updated(changed.items_updated)}",
        markup=False,
    )


@clients_app.command("overrides")
def clients_overrides(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """List the periods agreed with clients: client, rule, period, when set."""
    from rich.table import Table

    from troth.vault import list_overrides

    rows = in_transaction_or_exit(db, list_overrides)
    if not rows:
        out.print("no agreed periods", markup=False)
        return
    table = Table()
    for column in ("CLIENT", "RULE", "PERIOD", "SET", "POLICY"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.client, row.rule, row.period, _minute(row.set_at), row.policy_version)
    _wide().print(table)


@clients_app.command("clear")
def clients_clear(
    client: str = typer.Argument(..., metavar="CLIENT", help="The client's key"),
    rule: str = typer.Argument(..., metavar="RULE", help="The rule"),
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help=DECLARATION_HELP),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Remove the period agreed with CLIENT for RULE: its items go back to the rule's period."""
    from troth.audit import Actor
    from troth.vault import OverrideRefused, UnknownOverride, clear_override

    policy = _load_or_exit(declaration)
    try:
        changed = in_transaction_or_exit(
            db,
            lambda session: clear_override(
                session,
                policy,
                client=client,
                rule=rule,
                now=datetime.now(UTC),
                actor=Actor.system(CLI_ACTOR_ID),
            ),
        )
    except OverrideRefused as exc:
        err.print(f"error: {_ARGUMENTS[exc.field]}: {exc.message}", markup=False)
        raise typer.Exit(1) from None
    except UnknownOverride as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    assert changed.previous is not None
    out.print(
        f"client {client}: {rule} no longer kept for {changed.previous.iso()}; back to the "
        f"rule's period; {updated(changed.items_updated)}",
        markup=False,
    )
