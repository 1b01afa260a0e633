"""`troth events record`: record an event that starts retention clocks, for a subject or for
one of the company's clients (its contract ended). See docs/retention.md."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .apikeys import CLI_ACTOR_ID
from .app import DB_HELP, DEFAULT_DB, DEFAULT_DECLARATION, _load_or_exit, app, err, out
from .clients import updated as updated_items
from .retention import DECLARATION_HELP, parse_moment
from .store import in_transaction_or_exit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

events_app = typer.Typer(
    help="Events that start retention clocks, for a subject or a client.", no_args_is_help=True
)
app.add_typer(events_app, name="events")

_OPTIONS = {"occurred_at": "--at"}


@events_app.command("record")
def events_record(
    event: str = typer.Argument(
        ..., metavar="EVENT", help="contract_ended, account_closed, ... or a declared event"
    ),
    subject: str | None = typer.Option(None, "--subject", help="The subject's troth id"),
    client: str | None = typer.Option(None, "--client", help="The client's key"),
    at: str | None = typer.Option(
        None, "--at", help="When it happened (YYYY-MM-DD or a time with zone; default now)"
    ),
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help=DECLARATION_HELP),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Record that EVENT happened to a subject or a client; set the deadlines it starts."""
    from troth.audit import Actor
    from troth.subjects.registry import UnknownSubject
    from troth.vault import EventRefused, record_client_event, record_subject_event

    if (subject is None) == (client is None):
        err.print("error: give exactly one of --subject and --client", markup=False)
        raise typer.Exit(1)
    occurred_at = parse_moment(at, "--at") if at is not None else None
    policy = _load_or_exit(declaration)
    actor = Actor.system(CLI_ACTOR_ID)

    def record(session: Session) -> tuple[str, datetime, int]:
        now = datetime.now(UTC)
        if client is not None:
            done = record_client_event(
                session,
                policy,
                client=client,
                event=event,
                occurred_at=occurred_at,
                now=now,
                actor=actor,
            )
            return f"client {done.client}", done.occurred_at, done.items_updated
        assert subject is not None
        recorded = record_subject_event(
            session,
            policy,
            subject_id=subject,
            event=event,
            occurred_at=occurred_at,
            now=now,
            actor=actor,
        )
        return f"subject {recorded.subject_id}", recorded.occurred_at, recorded.items_updated

    try:
        whom, when, updated = in_transaction_or_exit(db, record)
    except EventRefused as exc:
        option = _OPTIONS.get(exc.field, "EVENT" if exc.field == "event" else f"--{exc.field}")
        err.print(f"error: {option}: {exc.message}; nothing was recorded", markup=False)
        raise typer.Exit(1) from None
    except UnknownSubject:
        err.print("error: --subject: no subject has this id; nothing was recorded", markup=False)
        raise typer.Exit(1) from None
    out.print(
        f"recorded {event} for {whom} at {when:%Y-%m-%d %H:%M %Z}: {updated_items(updated)}",
        markup=False,
    )
