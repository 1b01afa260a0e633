"""Commands on a declaration: check, render, init, diff."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from troth.declaration import DeclarationError, Policy, load_policy, read_declaration

from .app import DEFAULT_DECLARATION, _load_or_exit, app, err, out
from .keys import _init_master_key

if TYPE_CHECKING:
    pass


class Format(StrEnum):
    md = "md"
    html = "html"


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


DIFF_CANNOT_COMPARE = 3


class DiffFormat(StrEnum):
    text = "text"
    json = "json"


class _DiffCommand(typer.core.TyperCommand):
    """Exits 3 on a usage mistake, where click would exit 2 (which means "material" here)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except Exception as exc:
            # Typer bundles its own click, so match click's usage error by its exit code.
            if getattr(exc, "exit_code", None) == 2:
                exc.exit_code = DIFF_CANNOT_COMPARE
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
