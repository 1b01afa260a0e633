"""`troth keys`: the master key that protects data subjects' personal data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from .app import app, err, out

if TYPE_CHECKING:
    pass


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
