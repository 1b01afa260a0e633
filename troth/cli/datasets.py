"""`troth datasets scaffold` and `check`: where personal data lives in the company's databases.

A database URL on the command line may be ``env:VARNAME``, read from that environment variable,
so that a password never lands in shell history. URLs are never printed; where one must be
named, its password is masked. A database that cannot be opened exits with status 2.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from .app import _load_or_exit, app, err, out

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from troth.declaration import Policy
    from troth.declaration.problems import Problem

datasets_app = typer.Typer(
    help="Datasets: where personal data lives in the company's own databases.",
    no_args_is_help=True,
)
app.add_typer(datasets_app, name="datasets")

URL_HELP = (
    "Database URL (sqlite:///PATH, postgresql+psycopg://USER@HOST/DB, ...), or env:VARNAME to "
    "read it from an environment variable"
)
# Exit status for a database that cannot be opened, apart from 1 for problems in a file.
UNREACHABLE = 2


def _database_error(message: str) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(UNREACHABLE)


def _engine_or_exit(value: str) -> Engine:
    """An engine for the URL (or ``env:VARNAME``) that has been seen to connect."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from troth.store import DatabaseURLError, display_url, parse_url

    if value.startswith("env:"):
        name = value.removeprefix("env:")
        url = os.environ.get(name, "")
        if not url:
            _database_error(f"environment variable {name} holds no database URL")
    else:
        url = value
    try:
        parsed = parse_url(url)
    except DatabaseURLError:
        _database_error("the database URL cannot be parsed; use e.g. sqlite:///PATH")
    shown = display_url(parsed)
    options = {}
    if parsed.get_backend_name() == "sqlite":
        # Opening a SQLite path that does not exist would create an empty database.
        database = parsed.database or ""
        if database not in ("", ":memory:") and not Path(database).is_file():
            _database_error(f"no SQLite database at {database}")
    elif parsed.get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(parsed, **options)
        with engine.connect():
            pass
    except (SQLAlchemyError, ImportError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if parsed.password:
            reason = reason.replace(str(parsed.password), "***")
        _database_error(f"cannot connect to {shown}: {reason}")
    return engine


def _default_key(output: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", output.stem) or "dataset"


@datasets_app.command("scaffold")
def datasets_scaffold(
    db_url: str = typer.Argument(..., metavar="DB_URL", help=URL_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="The dataset file to write"),
    key: str | None = typer.Option(
        None, "--key", help="The dataset's fides_key (default: the output file's name)"
    ),
    sample: int = typer.Option(
        50, "--sample", min=0, help="Rows per table whose values suggest categories (0: none)"
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing file"),
) -> None:
    """Write a dataset file from a live database's schema, each suggestion marked for review."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.datasets.scaffold import scaffold

    if output.exists() and not force:
        err.print(f"{output}: error: the file exists; use --force to replace it", markup=False)
        raise typer.Exit(1)
    engine = _engine_or_exit(db_url)
    try:
        text = scaffold(engine, key=key or _default_key(output), sample_rows=sample)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _database_error(f"reading the schema failed: {reason}")
    finally:
        engine.dispose()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"{output}: error: cannot write: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    to_review = sum(line.endswith(": review") for line in text.splitlines())
    out.print(
        f"wrote {output}: {to_review} suggestion(s) marked 'review' to confirm or correct, then "
        f"run `troth datasets check {output} --db ...`",
        markup=False,
    )


@datasets_app.command("check")
def datasets_check(
    file: Path = typer.Argument(..., help="The dataset file"),
    db: str | None = typer.Option(None, "--db", help=URL_HELP + "; checks the live schema too"),
    declaration: Path | None = typer.Option(
        None, "--declaration", help="Check retention rules and categories against it"
    ),
) -> None:
    """Check that every personal field is reached and can be erased as declared; print every
    problem as FILE:LINE:COL: severity: message."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.datasets.check import check_dataset, reflect
    from troth.datasets.model import DatasetError, load_datasets

    try:
        datasets = load_datasets(file)
    except DatasetError as exc:
        _report(exc.problems, file)
        raise typer.Exit(1) from None
    policy: Policy | None = _load_or_exit(declaration) if declaration else None
    engine = _engine_or_exit(db) if db else None
    problems: list[Problem] = []
    try:
        for dataset in datasets:
            metadata = reflect(engine, dataset) if engine is not None else None
            problems += check_dataset(dataset, policy=policy, metadata=metadata)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _database_error(f"reading the schema failed: {reason}")
    finally:
        if engine is not None:
            engine.dispose()
    errors = _report(problems, file)
    if errors:
        raise typer.Exit(1)
    against = " against the database" if engine is not None else " (no --db: the file alone)"
    out.print(f"{file}: ok{against}", markup=False)


def _report(problems: list[Problem], file: Path) -> int:
    for problem in problems:
        err.print(str(problem), markup=False)
    errors = sum(p.severity == "error" for p in problems)
    if problems:
        err.print(f"{file}: {errors} error(s), {len(problems) - errors} warning(s)", markup=False)
    return errors
