"""The ``troth`` application object, its shared options and helpers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from troth.declaration import DeclarationError, Policy, load_policy

if TYPE_CHECKING:
    pass

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


DB_HELP = "Database URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
