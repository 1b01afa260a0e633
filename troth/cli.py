"""The ``troth`` command: a thin adapter over the declaration and the services."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from troth.declaration import DeclarationError, Policy, load_policy, read_declaration

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
