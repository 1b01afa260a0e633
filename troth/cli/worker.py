"""`troth worker`: run durable jobs (rights requests' execution) and deadline reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from troth.declaration import Policy
from troth.subjects.keys import DEFAULT_KEY_FILE
from troth.subjects.keys import ENV_VAR as KEY_ENV_VAR

from .app import DB_HELP, DEFAULT_DB, DEFAULT_DECLARATION, _load_or_exit, app, err, out

if TYPE_CHECKING:
    from troth.datasets import Connected

DATASETS_HELP = (
    "A dataset file, or a folder of them, describing a company database that rights requests "
    "reach into; repeatable. Each one's connection string comes from TROTH_DATASET_<KEY>_URL or "
    "the secrets file"
)
SECRETS_HELP = "A YAML file with 'datasets: {KEY: URL}' connection strings"


def datasets_or_exit(
    paths: list[Path], secrets_file: Path | None, policy: Policy
) -> Connected | None:
    """The connected datasets for ``troth worker`` and ``troth serve``, or a message and exit 1."""
    if not paths:
        return None
    from troth.datasets import ConnectionConfigError, DatasetError, connect_datasets

    try:
        return connect_datasets(paths, policy=policy, secrets_file=secrets_file)
    except DatasetError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
    except ConnectionConfigError as exc:
        err.print(f"error: {exc}", markup=False)
    raise typer.Exit(1)


@app.command()
def worker(
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help="Declaration file"),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    key_file: Path = typer.Option(
        DEFAULT_KEY_FILE, "--key-file", help=f"Master key file (unless {KEY_ENV_VAR} is set)"
    ),
    previous_key_file: list[Path] = typer.Option(
        [], "--previous-key-file", help="A master key being retired, still read; repeatable"
    ),
    public_url: str = typer.Option(
        "",
        "--public-url",
        envvar="TROTH_PUBLIC_URL",
        help="Where people reach the server, for download links in emails",
    ),
    interval: float = typer.Option(
        5.0, "--interval", min=0.5, help="Seconds between passes when there is nothing to do"
    ),
    once: bool = typer.Option(False, "--once", help="Run one pass, print what it did, and stop"),
    datasets: list[Path] = typer.Option([], "--datasets", help=DATASETS_HELP),
    secrets_file: Path | None = typer.Option(
        None, "--secrets-file", envvar="TROTH_SECRETS_FILE", help=SECRETS_HELP
    ),
    lease_seconds: float = typer.Option(
        600.0,
        "--lease",
        min=1.0,
        help="Seconds a job stays claimed; a worker that dies holds its job this long",
    ),
) -> None:
    """Run jobs (rights requests, the daily retention sweep) and queue reminders, in a loop."""
    from sqlalchemy.exc import SQLAlchemyError

    from troth.jobs import WorkerLoop
    from troth.rights import worker_pass
    from troth.store import DatabaseURLError, display_url, make_engine, make_sessionmaker, upgrade

    from .keys import _keyring_or_exit

    policy = _load_or_exit(declaration)
    keyring = _keyring_or_exit(key_file, previous_key_file)
    connected = datasets_or_exit(datasets, secrets_file, policy)
    try:
        engine = make_engine(db)
    except DatabaseURLError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)

        def run_pass() -> None:
            report = worker_pass(
                sessions,
                policy,
                keyring,
                datetime.now(UTC),
                base_url=public_url,
                lease=timedelta(seconds=lease_seconds),
                datasets=connected,
            )
            if once or report != type(report)():
                out.print(
                    f"jobs done {report.jobs_done}, retried {report.jobs_retried}, failed "
                    f"{report.jobs_failed}; reminders queued {report.reminders}"
                    + ("; next daily retention sweep queued" if report.sweep_scheduled else ""),
                    markup=False,
                )

        if once:
            run_pass()
            return
        out.print(f"troth worker on {display_url(db)}; stop with Ctrl-C", markup=False)
        loop = WorkerLoop(run_pass, interval)
        try:
            loop.run()
        except KeyboardInterrupt:
            out.print("stopped", markup=False)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(f"error: database {display_url(db)}: {reason}", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
        if connected is not None:
            connected.dispose()
