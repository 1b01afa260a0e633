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
    help="The audit trail: verify its hash chain, export it as JSON lines, list who read a "
    "subject's data.",
    no_args_is_help=True,
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


@audit_app.command("who-read")
def audit_who_read(
    subject_id: str = typer.Argument(..., metavar="SUBJECT", help="The subject's troth id"),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead"),
) -> None:
    """List every read of a subject's data (and every refused attempt): when, by whom, under
    which role, for which purpose, and which categories."""
    import json

    from troth.subjects.registry import UnknownSubject
    from troth.vault import who_read

    def show(session: Session) -> int:
        try:
            reads = who_read(session, subject_id)
        except UnknownSubject:
            err.print(f"error: there is no subject {subject_id!r}", markup=False)
            raise typer.Exit(1) from None
        if as_json:
            for read in reads:
                typer.echo(
                    json.dumps(
                        {
                            "seq": read.seq,
                            "at": read.occurred_at.isoformat(),
                            "actor": f"{read.actor_kind}:{read.actor_id}",
                            "staff": read.staff,
                            "role": read.role,
                            "purpose": read.purpose,
                            "categories": list(read.categories),
                            "items": read.items,
                            "refused": read.refused,
                            "policy_version": read.policy_version,
                        }
                    )
                )
            return len(reads)
        if not reads:
            out.print(f"no one has read the data of subject {subject_id}", markup=False)
            return 0
        rows = [("WHEN", "WHO", "STAFF", "ROLE", "PURPOSE", "READ")]
        for read in reads:
            outcome = (
                f"refused: {read.refused}"
                if read.refused
                else f"{read.items} item(s): {', '.join(read.categories) or 'nothing held'}"
            )
            rows.append(
                (
                    read.occurred_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    f"{read.actor_kind}:{read.actor_id}",
                    read.staff or "-",
                    read.role,
                    read.purpose,
                    outcome,
                )
            )
        # Plain aligned columns, never truncated or wrapped, so that they can be grepped.
        widths = [max(len(row[column]) for row in rows) for column in range(5)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            out.print("  ".join([*cells, row[5]]).rstrip(), markup=False, highlight=False)
        return len(reads)

    _audit_events_or_exit(db, show)
