"""`troth retention` (plan, run, report) and `troth holds` (place, lift, list): retention that
runs, from the terminal. See docs/retention.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from troth.declaration import Policy
from troth.subjects.keys import DEFAULT_KEY_FILE
from troth.subjects.keys import ENV_VAR as KEY_ENV_VAR

from .apikeys import CLI_ACTOR_ID
from .app import DB_HELP, DEFAULT_DB, DEFAULT_DECLARATION, _load_or_exit, app, err, out
from .store import in_transaction_or_exit, sessions_or_exit
from .worker import DATASETS_HELP, SECRETS_HELP, datasets_or_exit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from troth.datasets import Connected
    from troth.retention import LegalHold, RetentionPlan, SweepReport
    from troth.subjects import Keyring

retention_app = typer.Typer(
    help="Retention: what expires when (plan), the sweep (run), the review report.",
    no_args_is_help=True,
)
holds_app = typer.Typer(
    help="Legal holds that suspend deletion: place, lift, list.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")
app.add_typer(holds_app, name="holds")

DECLARATION_HELP = "Declaration file"


def parse_moment(text: str, option: str) -> datetime:
    """A date (midnight UTC) or a date and time with a zone, or exit 1 naming the option."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        err.print(
            f"error: {option}: {text!r} is not a date (YYYY-MM-DD) or a time with a zone "
            "(2027-06-30T18:00:00+05:30)",
            markup=False,
        )
        raise typer.Exit(1) from None
    if moment.tzinfo is None:
        err.print(f"error: {option}: give the time zone (e.g. ...Z or +05:30)", markup=False)
        raise typer.Exit(1)
    return moment


def _wide() -> Console:
    """Where tables go: the terminal, or, piped or redirected, a page 200 columns wide rather
    than the 80 a console assumes."""
    if out.is_terminal:
        return out
    return Console(file=out.file, width=200, highlight=False)


# -- troth retention ---------------------------------------------------------------------------


def _plan_table(plan: RetentionPlan) -> object:
    from rich.table import Table

    table = Table(title=f"Items that expire, per rule ({plan.now:%Y-%m-%d %H:%M} UTC)")
    table.add_column("Rule")
    table.add_column("Action")
    for label in plan.labels:
        table.add_column(label, justify="right")
    table.add_column("Held", justify="right")
    for row in plan.rows:
        held = row.held_now + sum(row.held_by_month)
        table.add_row(
            f"{row.source}: {row.rule}",
            row.action,
            str(row.due_now),
            *(str(n) for n in row.by_month),
            str(held),
        )
    return table


def _datasets_option() -> Any:
    return typer.Option([], "--datasets", help=DATASETS_HELP)


def _secrets_option() -> Any:
    return typer.Option(None, "--secrets-file", envvar="TROTH_SECRETS_FILE", help=SECRETS_HELP)


def _key_option() -> Any:
    return typer.Option(
        DEFAULT_KEY_FILE,
        "--key-file",
        help=f"Master key file, for --datasets (unless {KEY_ENV_VAR} is set)",
    )


def _company(
    datasets: list[Path], secrets_file: Path | None, key_file: Path, policy: Policy
) -> tuple[Connected | None, Keyring | None]:
    """The connected company databases and the keyring they need, or (None, None)."""
    connected = datasets_or_exit(datasets, secrets_file, policy)
    if connected is None:
        return None, None
    from .keys import _keyring_or_exit

    return connected, _keyring_or_exit(key_file, [])


@retention_app.command("plan")
def retention_plan(
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help=DECLARATION_HELP),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    datasets: list[Path] = _datasets_option(),
    secrets_file: Path | None = _secrets_option(),
    key_file: Path = _key_option(),
) -> None:
    """Show, per rule, the items due now and in each of the next 12 months; changes nothing."""
    from troth.retention import plan_vault
    from troth.retention.datasets import plan_datasets

    policy = _load_or_exit(declaration)
    connected, keyring = _company(datasets, secrets_file, key_file, policy)

    def plan_all(session: Session) -> RetentionPlan:
        plan = plan_vault(session, policy, datetime.now(UTC))
        if connected is not None and keyring is not None:
            plan_datasets(session, policy, keyring, connected, plan)
        return plan

    plan = in_transaction_or_exit(db, plan_all)
    _wide().print(_plan_table(plan))
    out.print(
        "Months are counted each on its own (not cumulatively), the current one from now; "
        "'Held' are items legal holds keep past their deadline.",
        markup=False,
    )


def _print_counts(report: SweepReport) -> None:
    if not report.total():
        out.print("nothing was due", markup=False)
    for source, rules in report.counts.items():
        for rule, actions in rules.items():
            done = ", ".join(f"{action} {n}" for action, n in actions.items())
            out.print(f"{source}: {rule}: {done}", markup=False)
    for source, kept in report.held.items():
        for rule, n in kept.items():
            out.print(f"{source}: {rule}: {n} due but kept by legal holds", markup=False)
    for rule, n in report.unknown_rules.items():
        out.print(
            f"vault: {rule}: {n} due under a rule the declaration no longer has; left alone",
            markup=False,
        )


@retention_app.command("run")
def retention_run(
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help=DECLARATION_HELP),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    batch_size: int = typer.Option(
        1000, "--batch-size", min=1, max=100_000, help="Items per batch (one transaction each)"
    ),
    datasets: list[Path] = _datasets_option(),
    secrets_file: Path | None = _secrets_option(),
    key_file: Path = _key_option(),
) -> None:
    """Sweep now: delete, anonymise or isolate every item past its deadline; print the counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from sqlalchemy.exc import SQLAlchemyError

    from troth.retention import sweep_vault
    from troth.store import display_url

    policy = _load_or_exit(declaration)
    connected, keyring = _company(datasets, secrets_file, key_file, policy)
    engine, sessions = sessions_or_exit(db)
    try:
        with Progress(
            TextColumn("sweeping"), BarColumn(), MofNCompleteColumn(), console=err
        ) as bar:
            task = bar.add_task("sweep", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = sweep_vault(
                sessions,
                policy,
                datetime.now(UTC),
                batch_size=batch_size,
                progress=progress,
                datasets=connected,
                keyring=keyring,
            )
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        err.print(f"error: database {display_url(db)}: {reason}", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
        if connected is not None:
            connected.dispose()
    _print_counts(report)
    out.print(f"sweep {report.sweep_id}: {report.total()} items in {report.batches} batches")


@retention_app.command("report")
def retention_report(
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help=DECLARATION_HELP),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    format: str = typer.Option("csv", "--format", help="csv or html", metavar="FORMAT"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of standard output"
    ),
    datasets: list[Path] = _datasets_option(),
    secrets_file: Path | None = _secrets_option(),
) -> None:
    """The annual review report: per rule what is held, how much, since when, why, which holds."""
    from troth.retention import report_csv, report_html, review_report

    if format not in ("csv", "html"):
        err.print(f"error: --format: {format!r} is not csv or html", markup=False)
        raise typer.Exit(1)
    from troth.retention.datasets import review_datasets

    policy = _load_or_exit(declaration)
    connected = datasets_or_exit(datasets, secrets_file, policy)
    report = in_transaction_or_exit(
        db, lambda session: review_report(session, policy, datetime.now(UTC))
    )
    if connected is not None:
        review_datasets(policy, connected, report)
        connected.dispose()
    text = report_csv(report) if format == "csv" else report_html(report)
    if output is None:
        out.print(text, markup=False, highlight=False, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"error: --output: cannot write {output}: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"wrote the review report ({format}) to {output}", markup=False)


# -- troth holds -------------------------------------------------------------------------------


@holds_app.command("place")
def holds_place(
    reason: str = typer.Option(..., "--reason", help="The matter: a case or order number"),
    by: str = typer.Option(..., "--by", help="Who places the hold"),
    subject: str | None = typer.Option(None, "--subject", help="Hold a subject's data (troth id)"),
    client: str | None = typer.Option(None, "--client", help="Hold a client's data (its key)"),
    category: str | None = typer.Option(
        None, "--category", help="Hold a data category and those under it"
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", help="Hold a dataset ('vault', KEY or KEY.COLLECTION)"
    ),
    until: str | None = typer.Option(
        None, "--until", help="When the hold ends by itself (YYYY-MM-DD or a time with zone)"
    ),
    declaration: Path = typer.Option(DEFAULT_DECLARATION, "--declaration", help=DECLARATION_HELP),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Place a legal hold on one subject, client, category or dataset; print its id."""
    from troth.audit import Actor
    from troth.retention import HoldInputError, place_hold

    given = {
        scope: target
        for scope, target in (
            ("subject", subject),
            ("client", client),
            ("category", category),
            ("dataset", dataset),
        )
        if target is not None
    }
    if len(given) != 1:
        err.print(
            "error: give exactly one of --subject, --client, --category and --dataset",
            markup=False,
        )
        raise typer.Exit(1)
    [(scope, target)] = given.items()
    ends = parse_moment(until, "--until") if until is not None else None
    policy = _load_or_exit(declaration)

    def place(session: Session) -> LegalHold:
        return place_hold(
            session,
            policy,
            scope=scope,
            target=target,
            reason=reason,
            placed_by=by,
            until=ends,
            now=datetime.now(UTC),
            actor=Actor.system(CLI_ACTOR_ID),
        )

    try:
        hold = in_transaction_or_exit(db, place)
    except HoldInputError as exc:
        option = {"placed_by": "--by"}.get(exc.field, f"--{exc.field}")
        err.print(f"error: {option}: {exc.message}; no hold was placed", markup=False)
        raise typer.Exit(1) from None
    out.print(f"placed legal hold {hold.id} on {scope} {hold.target}", markup=False)


@holds_app.command("lift")
def holds_lift(
    hold_id: str = typer.Argument(..., metavar="ID", help="The hold's id"),
    by: str = typer.Option(..., "--by", help="Who lifts the hold"),
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
) -> None:
    """Lift a legal hold; the next sweep acts on what it kept."""
    from troth.audit import Actor
    from troth.retention import HoldAlreadyLifted, HoldInputError, UnknownHold, lift_hold

    try:
        in_transaction_or_exit(
            db,
            lambda session: lift_hold(
                session,
                hold_id,
                lifted_by=by,
                now=datetime.now(UTC),
                actor=Actor.system(CLI_ACTOR_ID),
            ),
        )
    except (UnknownHold, HoldAlreadyLifted) as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None
    except HoldInputError as exc:
        err.print(f"error: --by: {exc.message}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"lifted legal hold {hold_id}", markup=False)


def _minute(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@holds_app.command("list")
def holds_list(
    db: str = typer.Option(DEFAULT_DB, "--db", envvar="TROTH_DB", help=DB_HELP),
    active: bool = typer.Option(False, "--active", help="Only the holds in force now"),
) -> None:
    """List legal holds, newest first: id, state, scope, target, until, reason."""
    from rich.table import Table

    from troth.retention import is_active, list_holds

    now = datetime.now(UTC)
    holds = in_transaction_or_exit(db, lambda s: list_holds(s, now, active_only=active))
    if not holds:
        out.print("no legal holds", markup=False)
        return
    table = Table()
    for column in ("ID", "STATE", "SCOPE", "TARGET", "PLACED", "BY", "UNTIL", "REASON"):
        table.add_column(column, overflow="fold")
    for hold in holds:
        if hold.lifted_at is not None:
            state = f"lifted {_minute(hold.lifted_at)} by {hold.lifted_by}"
        else:
            state = "active" if is_active(hold, now) else "ended"
        table.add_row(
            hold.id,
            state,
            hold.scope,
            hold.target,
            _minute(hold.placed_at),
            hold.placed_by,
            _minute(hold.until),
            hold.reason,
        )
    _wide().print(table)
