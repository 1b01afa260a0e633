"""`troth children sweep`: delete the children's data no parent consented to in time, once,
outside the server (which sweeps by itself while it runs)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from .app import DB_HELP, DEFAULT_DB, app, err, out

children_app = typer.Typer(
    help="Children's data held for a parent's consent (P29).", no_args_is_help=True
)
app.add_typer(children_app, name="children")


@children_app.command("sweep")
def children_sweep(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Delete every held submission whose consent window has ended; print how many."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.children import expire_held_children
    from troth.store import DatabaseURLError, display_url, make_engine, make_sessionmaker, upgrade

    try:
        engine = make_engine(db)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        upgrade(engine)
        report = expire_held_children(make_sessionmaker(engine), datetime.now(UTC))
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(f"error: database {display_url(db)}: {reason}", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    out.print(
        f"expired {report.holds_expired} held submissions past their consent window; "
        f"deleted {report.items_deleted} items",
        markup=False,
    )
