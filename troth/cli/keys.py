"""`troth keys`: the master key that protects data subjects' personal data."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from troth.subjects.keys import DEFAULT_KEY_FILE
from troth.subjects.keys import ENV_VAR as KEY_ENV_VAR
from troth.subjects.rotation import DEFAULT_BATCH

from .app import DB_HELP, DEFAULT_DB, app, err, out

if TYPE_CHECKING:
    from troth.subjects import Keyring


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


def _keyring_or_exit(key_file: Path, previous: list[Path]) -> Keyring:
    """The current master key (``TROTH_MASTER_KEY`` or ``key_file``) and previous key files."""
    from troth.subjects import KeyMaterialError, Keyring, load_master_key, read_key_file

    try:
        return Keyring(load_master_key(key_file), [read_key_file(path) for path in previous])
    except KeyMaterialError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None


@keys_app.command("rotate")
def keys_rotate(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    key_file: Path = typer.Option(
        DEFAULT_KEY_FILE,
        "--key-file",
        help=f"The new master key file (unless {KEY_ENV_VAR} is set)",
    ),
    previous_key_file: list[Path] = typer.Option(
        [], "--previous-key-file", help="A master key being retired; repeat for several"
    ),
    batch_size: int = typer.Option(
        DEFAULT_BATCH, "--batch-size", min=1, max=10_000, help="Subjects per transaction"
    ),
) -> None:
    """Re-wrap every subject's data key under the new master key, batch by batch, while
    servers keep running; run it again to finish a run that was cut short."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.audit import Actor
    from troth.store import DatabaseURLError, display_url, make_engine, make_sessionmaker
    from troth.subjects import KeyringError
    from troth.subjects.rotation import rotate_keys, subjects_under_other_keys

    keyring = _keyring_or_exit(key_file, previous_key_file)
    try:
        engine = make_engine(db)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    sessions = make_sessionmaker(engine)
    try:
        result = rotate_keys(
            sessions,
            keyring,
            clock=lambda: datetime.now(UTC),
            actor=Actor.system("keys.rotate"),
            batch_size=batch_size,
        )
        with sessions() as session:
            left = subjects_under_other_keys(session, keyring)
    except KeyringError as exc:
        err.print(f"error: {exc}. Batches done so far are kept; run again.", markup=False)
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(f"error: database {display_url(db)}: {reason}", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    out.print(
        f"{result.keys_rewrapped} data keys re-wrapped and {result.identities_reindexed} "
        f"identities re-indexed under master key {keyring.current.key_id}, "
        f"in {result.batches} batches of up to {batch_size} ({result.subjects_seen} subjects)",
        markup=False,
    )
    if left:
        err.print(
            f"{left} subjects are still under another key (written meanwhile by a server "
            "with the old key current?); run `troth keys rotate` again",
            markup=False,
        )
        raise typer.Exit(1)
    out.print(
        "every subject is under the new key; servers can drop the previous key now",
        markup=False,
    )
