"""The ``troth`` command: a thin adapter over the declaration and the services."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from troth.declaration import DeclarationError, Policy, load_policy, read_declaration

if TYPE_CHECKING:
    from troth.publishing import PolicyVersion

app = typer.Typer(
    help="troth keeps the promises a privacy policy makes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

DEFAULT_DECLARATION = Path("privacy.yaml")
DEFAULT_DB = "sqlite:///var/troth.db"


class Format(StrEnum):
    md = "md"
    html = "html"


@app.callback()
def main() -> None:
    """troth keeps the promises a privacy policy makes."""


def _load_or_exit(path: Path) -> Policy:
    try:
        return load_policy(path)
    except DeclarationError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        raise typer.Exit(1) from None


@app.command()
def check(declaration: Path = typer.Argument(DEFAULT_DECLARATION, help="Declaration file")) -> None:
    """Validate a declaration; print every problem as FILE:LINE:COL: severity: message."""
    try:
        text = declaration.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"{declaration}:1:1: error: cannot read file: {exc}", markup=False)
        raise typer.Exit(1) from None
    policy, problems = read_declaration(text, str(declaration))
    for problem in problems:
        err.print(str(problem), markup=False)
    if policy is None:
        errors = sum(p.severity == "error" for p in problems)
        err.print(f"{errors} error(s), {len(problems) - errors} warning(s)", markup=False)
        raise typer.Exit(1)
    out.print(
        f"{declaration}: ok — {policy.organization_name}, version {policy.version}, "
        f"{len(problems)} warning(s)",
        markup=False,
    )


@app.command()
def render(
    declaration: Path = typer.Argument(DEFAULT_DECLARATION, help="Declaration file"),
    fmt: Format = typer.Option(Format.md, "--format", "-f", help="md or html"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (default: stdout)"),
) -> None:
    """Write the human-readable privacy policy rendered from a declaration."""
    from troth.declaration.render import render as render_policy

    policy = _load_or_exit(declaration)
    text = render_policy(policy, fmt.value)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"{output}: error: cannot write: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    err.print(f"wrote {output} ({fmt.value}, version {policy.version})", markup=False)


@app.command()
def init(
    output: Path = typer.Argument(DEFAULT_DECLARATION, help="Where to write the starter file"),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file"),
) -> None:
    """Write a commented starter privacy.yaml for a new company."""
    from importlib.resources import files

    if output.exists() and not force:
        err.print(f"{output} already exists; use --force to overwrite it", markup=False)
        raise typer.Exit(1)
    starter = files("troth.declaration").joinpath("starter.yaml").read_text(encoding="utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(starter, encoding="utf-8")
    out.print(
        f"wrote {output}: edit the CHANGE-ME parts, then run `troth check {output}`",
        markup=False,
    )
    _init_master_key(output.parent / "var" / "master.key")


def _publish_or_exit(
    files: list[Path], policies: list[Policy], db: str
) -> list[tuple[PolicyVersion, bool]]:
    """Migrate the database and record the policies, all or nothing; exit 1 with a message."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.publishing import VersionConflict, publish
    from troth.store import DatabaseURLError, display_url, make_engine

    try:
        engine = make_engine(db)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        return publish(engine, policies, datetime.now(UTC))
    except VersionConflict as exc:
        file = next(
            f for f, p in zip(files, policies, strict=True) if p.content_hash == exc.new_hash
        )
        err.print(f"{file}: error: {exc}. Nothing was recorded.", markup=False)
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(f"error: database {display_url(db)}: {reason}", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


DB_HELP = "Database URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


@app.command()
def serve(
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help="Declaration file"),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on"),
) -> None:
    """Serve the privacy policy and its version history; records the declaration's version."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from troth.web import create_app

    policy = _load_or_exit(declaration)
    # Recorded here too (the app does it again on startup, a no-op) so that a version conflict
    # or an unreachable database is a message, not a failed server start.
    _publish_or_exit([declaration], [policy], db)
    log_config = {**LOGGING_CONFIG, "loggers": {**LOGGING_CONFIG["loggers"]}}
    log_config["loggers"]["troth"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    out.print(
        f"serving {policy.organization_name}'s privacy policy, version {policy.version}, "
        f"at http://{host}:{port}/privacy",
        markup=False,
    )
    # uvicorn's access log would record client IP addresses; troth logs requests without them.
    uvicorn.run(
        create_app(policy, db), host=host, port=port, access_log=False, log_config=log_config
    )


@app.command()
def publish(
    files: list[Path] = typer.Argument(
        ..., metavar="FILE", help="Declaration files, oldest version first"
    ),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Record each declaration as a published version, in the order given (to load a history)."""
    from troth.store import display_url

    policies: list[Policy] = []
    failed = False
    for file in files:
        try:
            policies.append(load_policy(file))
        except DeclarationError as exc:
            failed = True
            for problem in exc.problems:
                err.print(str(problem), markup=False)
    if failed:
        err.print("nothing was recorded", markup=False)
        raise typer.Exit(1)
    results = _publish_or_exit(files, policies, db)
    for file, (row, created) in zip(files, results, strict=True):
        what = "recorded" if created else "skipped "
        note = "" if created else " (already recorded)"
        out.print(
            f"{what} version {row.version} (effective {row.effective_date.isoformat()}, "
            f"hash {row.short_hash}) from {file}{note}",
            markup=False,
        )
    created_count = sum(created for _, created in results)
    out.print(
        f"{created_count} recorded, {len(results) - created_count} skipped, in {display_url(db)}",
        markup=False,
    )


# troth diff: exit codes 1 and 2 are answers (minor, material), so "cannot compare" is 3.
DIFF_CANNOT_COMPARE = 3


class DiffFormat(StrEnum):
    text = "text"
    json = "json"


class _DiffCommand(typer.core.TyperCommand):
    """Exits 3 on a usage mistake, where click would exit 2 (which means "material" here)."""

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[no-untyped-def]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except Exception as exc:
            # Typer bundles its own click, so match click's usage error by its exit code.
            if getattr(exc, "exit_code", None) == 2:
                exc.exit_code = DIFF_CANNOT_COMPARE  # type: ignore[attr-defined]
            raise


@app.command("diff", cls=_DiffCommand)
def diff_command(
    old: Path = typer.Argument(..., help="The earlier declaration"),
    new: Path = typer.Argument(..., help="The later declaration"),
    fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="text or json"),
) -> None:
    """List every change between two declarations, each material or minor.

    Exit codes: 0 no change, 1 minor changes only, 2 at least one material change,
    3 a declaration is invalid or unreadable (its problems are printed as FILE:LINE:COL).
    """
    import json

    from troth.declaration.diff import diff_policies

    policies: list[Policy] = []
    for path in (old, new):
        try:
            policies.append(load_policy(path))
        except DeclarationError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False)
    if len(policies) < 2:
        raise typer.Exit(DIFF_CANNOT_COMPARE)
    before, after = policies
    changes = diff_policies(before, after)
    material = sum(change.material for change in changes)
    if fmt is DiffFormat.json:
        listed = [
            {"kind": c.kind, "section": c.section, "key": c.key, "message": c.message}
            for c in changes
        ]
        typer.echo(json.dumps(listed, indent=2, ensure_ascii=False))
    elif changes:
        for change in changes:
            out.print(f"{change.kind}: {change.message}", markup=False, emoji=False)
        noun = "change" if len(changes) == 1 else "changes"
        out.print(
            f"{material} material, {len(changes) - material} minor {noun} between version "
            f"{before.version} and {after.version}",
            markup=False,
        )
    else:
        out.print("no changes", markup=False)
    raise typer.Exit(2 if material else 1 if changes else 0)


keys_app = typer.Typer(
    help="The master key that protects data subjects' personal data.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")


def _create_key_file_or_exit(path: Path) -> None:
    from troth.subjects import ENV_VAR, KeyMaterialError, create_key_file

    try:
        key = create_key_file(path)
    except KeyMaterialError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"{path}: error: cannot write key file: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    out.print(
        f"wrote master key {path} (key id {key.key_id}, mode 0600). Back it up now, and "
        "separately from the database: without it the encrypted data cannot be read, and "
        "anyone with both can read it all.",
        markup=False,
    )
    if ENV_VAR in os.environ:
        out.print(f"note: {ENV_VAR} is set and is used instead of this file", markup=False)


def _init_master_key(path: Path) -> None:
    """`troth init` also creates the master key, unless one is already provided."""
    from troth.subjects import ENV_VAR

    if ENV_VAR in os.environ:
        out.print(f"master key: {ENV_VAR} is set, so no key file was written", markup=False)
    elif path.exists():
        out.print(f"master key: kept the existing {path}", markup=False)
    else:
        _create_key_file_or_exit(path)


@keys_app.command("create")
def keys_create(
    file: Path = typer.Option(Path("var/master.key"), "--file", help="Where to write the key"),
) -> None:
    """Create a new random master key file (mode 0600); never overwrites an existing one."""
    _create_key_file_or_exit(file)


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
