"""`troth audit`: verify and export the hash-chained audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .app import DB_HELP, DEFAULT_DB, app, err, out

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session


audit_app = typer.Typer(
    help="The audit trail: verify its hash chain, export it as JSON lines.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")


def _audit_events_or_exit(db: str, use: Callable[[Session], int]) -> int:
    """Run ``use`` on an existing troth database's audit trail; exit 1 with a message if none.

    Reading never creates or migrates anything: a missing SQLite file or a database without
    the ``audit_events`` table is an error.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from troth.store import DatabaseURLError, display_url, make_engine, make_sessionmaker, parse_url

    shown = display_url(db)
    try:
        url = parse_url(db)
        file = url.database if url.get_backend_name() == "sqlite" else None
        if file and file != ":memory:" and not file.startswith("file:") and not Path(file).exists():
            err.print(f"error: no database at {file} ({shown})", markup=False)
            raise typer.Exit(1)
        engine = make_engine(url)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        if not inspect(engine).has_table("audit_events"):
            err.print(
                f"error: database {shown} has no audit trail (no audit_events table); "
                "`troth publish` or `troth serve` creates it",
                markup=False,
            )
            raise typer.Exit(1)
        with make_sessionmaker(engine)() as session:
            return use(session)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(f"error: database {shown}: {reason}", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@audit_app.command("verify")
def audit_verify(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Re-compute the hash chain; exit 1 naming the first altered, removed or reordered event."""
    from troth.audit import verify_chain

    def check(session: Session) -> int:
        result = verify_chain(session)
        if not result.ok:
            err.print(result.message, markup=False)
            raise typer.Exit(1)
        out.print(f"{result.message} (last hash {result.last_hash})", markup=False)
        return result.count

    _audit_events_or_exit(db, check)


@audit_app.command("export")
def audit_export(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (default: stdout)"),
) -> None:
    """Write every audit event as a JSON line, in chain order."""
    import sys

    from troth.audit import export_events

    if output is None:
        _audit_events_or_exit(db, lambda session: export_events(session, sys.stdout))
        return
    # Written aside and renamed when complete, so a failed export never leaves a partial file.
    partial = output.with_name(f".{output.name}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as stream:
            count = _audit_events_or_exit(db, lambda session: export_events(session, stream))
        partial.replace(output)
    except OSError as exc:
        err.print(f"{output}: error: cannot write: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    finally:
        partial.unlink(missing_ok=True)
    err.print(f"wrote {count} events to {output}", markup=False)
