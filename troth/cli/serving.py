"""Commands that record and serve published policy versions: publish, serve."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from troth.declaration import DeclarationError, Policy, load_policy
from troth.subjects.keys import DEFAULT_KEY_FILE
from troth.subjects.keys import ENV_VAR as KEY_ENV_VAR

from .app import DB_HELP, DEFAULT_DB, DEFAULT_DECLARATION, _load_or_exit, app, err, out
from .worker import DATASETS_HELP, SECRETS_HELP, datasets_or_exit

if TYPE_CHECKING:
    from troth.publishing import PolicyVersion


def _publish_or_exit(
    files: list[Path], policies: list[Policy], db: str
) -> list[tuple[PolicyVersion, bool]]:
    """Migrate the database and record the policies, all or nothing; exit 1 with a message."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.consent import on_version_recorded
    from troth.publishing import VersionConflict, publish
    from troth.store import DatabaseURLError, display_url, make_engine

    try:
        engine = make_engine(db)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        return publish(engine, policies, datetime.now(UTC), on_recorded=on_version_recorded)
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


@app.command()
def serve(
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help="Declaration file"),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on"),
    key_file: Path = typer.Option(
        DEFAULT_KEY_FILE, "--key-file", help=f"Master key file (unless {KEY_ENV_VAR} is set)"
    ),
    previous_key_file: list[Path] = typer.Option(
        [], "--previous-key-file", help="A master key being retired, still read; repeatable"
    ),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        envvar="TROTH_PUBLIC_URL",
        help="Where people reach this server, for links in emails [default: http://HOST:PORT]",
    ),
    mail_dir: Path | None = typer.Option(
        None,
        "--mail-dir",
        help="Directory for .eml files when TROTH_SMTP_URL is not set [default: var/mail "
        "beside the database]",
    ),
    insecure_cookies: bool = typer.Option(
        False,
        "--insecure-cookies",
        help="Console cookies without the Secure flag, for plain http on a loopback address only",
    ),
    datasets: list[Path] = typer.Option([], "--datasets", help=DATASETS_HELP),
    secrets_file: Path | None = typer.Option(
        None, "--secrets-file", envvar="TROTH_SECRETS_FILE", help=SECRETS_HELP
    ),
) -> None:
    """Serve the privacy policy, the APIs, the pages and the staff console; deliver mail; run
    jobs; record the version."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from troth.web import create_app

    from .keys import _keyring_or_exit
    from .mail import mail_settings_or_exit

    if insecure_cookies and not _is_loopback(host):
        err.print(
            f"error: --insecure-cookies is only for a server on a loopback address "
            f"(127.0.0.1, ::1, localhost), not {host}: anywhere else the console's session "
            "cookie would travel in the clear; serve over https instead",
            markup=False,
        )
        raise typer.Exit(1)
    policy = _load_or_exit(declaration)
    transport, sender = mail_settings_or_exit(declaration, db, mail_dir)
    keyring = _keyring_or_exit(key_file, previous_key_file)
    connected = datasets_or_exit(datasets, secrets_file, policy)
    # Recorded here too (the app does it again on startup, a no-op) so that a version conflict
    # or an unreachable database is a message, not a failed server start.
    _publish_or_exit([declaration], [policy], db)
    log_config = {**LOGGING_CONFIG, "loggers": {**LOGGING_CONFIG["loggers"]}}
    log_config["loggers"]["troth"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    out.print(
        f"serving {policy.organization_name}'s privacy policy, version {policy.version}, "
        f"at http://{host}:{port}/privacy; mail goes to {transport.description}",
        markup=False,
    )
    # uvicorn's access log would record client IP addresses; troth logs requests without them.
    uvicorn.run(
        create_app(
            policy,
            db,
            keyring=keyring,
            transport=transport,
            mail_from=sender,
            public_url=public_url or f"http://{host}:{port}",
            secure_cookies=not insecure_cookies,
            run_jobs=True,
            datasets=connected,
        ),
        host=host,
        port=port,
        access_log=False,
        log_config=log_config,
    )


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
