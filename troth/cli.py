"""The ``troth`` command: a thin adapter over the declaration and the services."""

from __future__ import annotations

from enum import StrEnum
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
