"""The retention page: the plan of what expires (now and in each of the next 12 months) as a
chart with its table, the active legal holds with forms to place and lift them, the periods
agreed with clients with forms to set and clear them, the review report's summary, and the
report itself to download as CSV or HTML.

The figures come from :mod:`troth.retention` (``plan_vault``, ``review_report``); holds are
placed and lifted through its service functions, and agreed periods set and cleared through
:mod:`troth.vault`'s (``set_override``, ``clear_override``), which check the input, recompute
the client's deadlines and audit them. This module parses, calls and draws. Downloading the
report writes ``retention.report_downloaded`` (the format only).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.responses import Response

from troth.audit import record_event
from troth.datasets import DatasetError
from troth.retention import (
    HOLD_SCOPES,
    HoldAlreadyLifted,
    HoldInputError,
    RetentionPlan,
    UnknownHold,
    active_holds,
    lift_hold,
    place_hold,
    plan_vault,
    report_csv,
    report_html,
    review_report,
)
from troth.retention.datasets import plan_datasets, review_datasets
from troth.retention.isolated import read_isolated
from troth.retention.report import Report
from troth.staff import SignedIn
from troth.store import write_scope
from troth.subjects.registry import UnknownSubject
from troth.vault import (
    OverrideRefused,
    UnknownOverride,
    clear_override,
    list_overrides,
    set_override,
)
from troth.vault.clients import allows_override, client_rules

from ..site import Site, site
from .auth import PREFIX, ConsoleRefusal, check_csrf, form_fields, now, require_staff, url
from .charts import stacked_bars
from .pages import HOLD_ROLES, ISOLATED_ROLES, OVERRIDE_ROLES, RETENTION_ROLES, render_console

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX)

HOLD_FIELDS = ("scope", "target", "reason", "until")
OVERRIDE_FIELDS = ("client", "rule", "period")
DONE = {
    "placed": "Legal hold placed: the sweep leaves what it covers alone until it ends.",
    "lifted": "Legal hold lifted: the next sweep acts on whatever it kept that is due.",
    "agreed": "Agreed period set: the client's items under the rule have new deadlines at once.",
    "cleared": "Agreed period cleared: the client's items are back on the rule's own period.",
}
FORMATS = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}


def staff_name(who: SignedIn) -> str:
    """How a hold records who placed or lifted it from the console: the account's id, as the
    audit trail names staff (the review report is read widely; a name or address is not
    needed there)."""
    return f"staff:{who.account_id}"


def series_name(source: str, rule: str) -> str:
    return f"{source}: {rule}"


def plan_chart(plan: RetentionPlan) -> dict[str, Any]:
    """The chart of ``plan`` and the numbers behind it: one bar per month (``now`` first),
    stacked by the rules that act on something in the year (the table lists every rule)."""
    acting = [row for row in plan.rows if row.total]
    series = [series_name(row.source, row.rule) for row in acting]
    values = [
        [row.due_now if i == 0 else row.by_month[i - 1] for row in acting]
        for i in range(len(plan.labels))
    ]
    ticks = ["now"] + [label.split()[0] for label in plan.labels[1:]]
    title = f"Items that expire per month, by retention rule, {plan.labels[1]} to {plan.labels[-1]}"
    return {
        "chart": stacked_bars(title, plan.labels, series, values, ticks=ticks, legend_columns=2),
        "month_totals": [sum(column) for column in values],
    }


def parse_until(text: str) -> datetime | None:
    """A form's ``until``: empty, a date (the hold ends at its start, 00:00 UTC, as
    ``troth holds place --until`` reads it) or a time with a zone. ValueError otherwise."""
    text = text.strip()
    if not text:
        return None
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment


def done_note(request: Request) -> str | None:
    """What a done action says on the page, after the redirect; with how many items got a new
    deadline when an agreed period was set or cleared."""
    done = request.query_params.get("done", "")
    note = DONE.get(done)
    items = request.query_params.get("items", "")
    if note is not None and done in ("agreed", "cleared") and items.isdigit():
        n = int(items)
        note += f" {n} item{'s' if n != 1 else ''} got a new deadline."
    return note


def _page(
    request: Request,
    who: SignedIn,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    override_errors: dict[str, str] | None = None,
    override_form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    at = now(request)
    s = site(request)
    unreachable = None
    with s.sessions() as db:
        plan = plan_vault(db, s.policy, at)
        report = review_report(db, s.policy, at)
        holds = active_holds(db, at)
        overrides = [
            {"row": row, "applied": allows_override(s.policy, row.rule)}
            for row in list_overrides(db)
        ]
        unreachable = _with_datasets(s, db, plan, report)
    rows = [
        {
            "row": row,
            "months": [row.due_now, *row.by_month],
            "held": row.held_now + sum(row.held_by_month),
        }
        for row in plan.rows
    ]
    context: dict[str, Any] = {
        "page": "retention",
        "plan": plan,
        "rows": rows,
        "report": report,
        "holds": holds,
        "isolated": sum(row.isolated for row in report.rows),
        "scopes": HOLD_SCOPES,
        "can_hold": who.role in HOLD_ROLES,
        "errors": errors or {},
        "form": {name: (form or {}).get(name, "") for name in HOLD_FIELDS},
        "overrides": overrides,
        "client_rules": client_rules(s.policy),
        "can_override": who.role in OVERRIDE_ROLES,
        "override_errors": override_errors or {},
        "override_form": {name: (override_form or {}).get(name, "") for name in OVERRIDE_FIELDS},
        "error": error or unreachable,
        "done": done_note(request),
        **plan_chart(plan),
    }
    return render_console(request, "console/retention.html", context, status_code=status)


def _with_datasets(s: Site, db: Session, plan: RetentionPlan | None, report: Report) -> str | None:
    """Add the connected company databases' rows to the plan and the report; a message when
    one cannot be reached (the vault's figures are still shown)."""
    if s.datasets is None or s.keyring is None:
        return None
    try:
        if plan is not None:
            plan_datasets(db, s.policy, s.keyring, s.datasets, plan)
        review_datasets(s.policy, s.datasets, report)
    except (SQLAlchemyError, DatasetError) as exc:
        log.warning("retention page: a company database failed: %s", type(exc).__name__)
        return "A company database could not be read: its rows are missing from this page."
    return None


@router.get("/retention", name="console_retention")
def retention_page(
    request: Request, who: SignedIn = Depends(require_staff(*RETENTION_ROLES))
) -> Response:
    return _page(request, who)


def _download(request: Request, who: SignedIn, format: str) -> Response:
    at = now(request)
    s = site(request)
    with s.sessions() as db:
        report = review_report(db, s.policy, at)
        _with_datasets(s, db, None, report)
    body = report_csv(report) if format == "csv" else report_html(report)
    # Who took a copy of the report, and in which form, is for the audit trail; what it holds
    # is not (it is the report itself).
    with write_scope(s.sessions) as db:
        record_event(
            db,
            actor=who.actor,
            action="retention.report_downloaded",
            policy_version=s.policy.version,
            details={"format": format},
            now=at,
        )
    name = f"retention-review-{at:%Y-%m-%d}.{format}"
    return Response(
        body,
        media_type=FORMATS[format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/retention/report.csv", name="console_retention_report_csv")
def report_csv_download(
    request: Request, who: SignedIn = Depends(require_staff(*RETENTION_ROLES))
) -> Response:
    return _download(request, who, "csv")


@router.get("/retention/report.html", name="console_retention_report_html")
def report_html_download(
    request: Request, who: SignedIn = Depends(require_staff(*RETENTION_ROLES))
) -> Response:
    return _download(request, who, "html")


def _done(request: Request, done: str, items: int | None = None) -> Response:
    query = urlencode({"done": done} | ({"items": items} if items is not None else {}))
    return RedirectResponse(url(request, f"/retention?{query}"), status_code=303)


@router.post("/retention/holds", name="console_retention_place_hold")
def place_hold_action(
    request: Request,
    who: SignedIn = Depends(require_staff(*HOLD_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    check_csrf(form, who.csrf_token)
    given = {name: form.get(name, "") for name in HOLD_FIELDS}
    errors: dict[str, str] = {}
    scope = given["scope"]
    if scope not in HOLD_SCOPES:
        errors["scope"] = f"'scope': is not one of {', '.join(HOLD_SCOPES)}"
    until: datetime | None = None
    try:
        until = parse_until(given["until"])
    except ValueError:
        errors["until"] = (
            "'until': is not a date; give it as YYYY-MM-DD (the hold ends at 00:00 UTC)"
        )
    if errors:
        return _page(request, who, errors=errors, form=given, status=400)
    s, at = site(request), now(request)
    try:
        with write_scope(s.sessions) as db:
            place_hold(
                db,
                s.policy,
                scope=scope,
                target=given["target"],
                reason=given["reason"],
                placed_by=staff_name(who),
                until=until,
                now=at,
                actor=who.actor,
            )
    except HoldInputError as exc:
        # A target's fault is named after its scope ("subject: no subject has this id").
        field = "target" if exc.field == scope else exc.field
        if field not in HOLD_FIELDS:
            return _page(request, who, form=given, error=str(exc), status=400)
        errors[field] = f"'{field}': {exc.message}"
        return _page(request, who, errors=errors, form=given, status=400)
    return _done(request, "placed")


@router.post("/retention/holds/{hold_id}/lift", name="console_retention_lift_hold")
def lift_hold_action(
    request: Request,
    hold_id: str,
    who: SignedIn = Depends(require_staff(*HOLD_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    check_csrf(form, who.csrf_token)
    s, at = site(request), now(request)
    try:
        with write_scope(s.sessions) as db:
            lift_hold(db, hold_id, lifted_by=staff_name(who), now=at, actor=who.actor)
    except UnknownHold:
        raise ConsoleRefusal(
            404, "No such legal hold", "There is no legal hold with that id."
        ) from None
    except HoldAlreadyLifted as exc:
        return _page(request, who, error=str(exc), status=409)
    return _done(request, "lifted")


@router.post("/retention/overrides", name="console_retention_set_override")
def set_override_action(
    request: Request,
    who: SignedIn = Depends(require_staff(*OVERRIDE_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    """Set (or change) the period agreed with a client for a rule that allows one."""
    check_csrf(form, who.csrf_token)
    given = {name: form.get(name, "").strip() for name in OVERRIDE_FIELDS}
    s, at = site(request), now(request)
    try:
        with write_scope(s.sessions) as db:
            changed = set_override(
                db,
                s.policy,
                client=given["client"],
                rule=given["rule"],
                period=given["period"],
                now=at,
                actor=who.actor,
            )
    except OverrideRefused as exc:
        errors = {exc.field: f"'{exc.field}': {exc.message}"}
        return _page(request, who, override_errors=errors, override_form=given, status=400)
    return _done(request, "agreed", changed.items_updated)


@router.post("/retention/overrides/{client}/{rule}/clear", name="console_retention_clear_override")
def clear_override_action(
    request: Request,
    client: str,
    rule: str,
    who: SignedIn = Depends(require_staff(*OVERRIDE_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    """Clear the period agreed with a client for a rule: back to the rule's own."""
    check_csrf(form, who.csrf_token)
    s, at = site(request), now(request)
    try:
        with write_scope(s.sessions) as db:
            changed = clear_override(
                db, s.policy, client=client, rule=rule, now=at, actor=who.actor
            )
    except OverrideRefused as exc:
        return _page(request, who, error=str(exc), status=400)
    except UnknownOverride:
        raise ConsoleRefusal(
            404, "No such agreed period", "No period is agreed with that client for that rule."
        ) from None
    return _done(request, "cleared", changed.items_updated)


@router.get("/retention/isolated", name="console_retention_isolated")
def isolated_page(
    request: Request, who: SignedIn = Depends(require_staff(*ISOLATED_ROLES))
) -> Response:
    return render_console(
        request,
        "console/isolated.html",
        {"page": "retention", "items": None, "rows": [], "subject": ""},
    )


@router.post("/retention/isolated", name="console_retention_isolated_read")
def isolated_read(
    request: Request,
    who: SignedIn = Depends(require_staff(*ISOLATED_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    """Read one subject's isolated items: a POST, because the read itself is recorded."""
    check_csrf(form, who.csrf_token)
    subject_id = form.get("subject", "").strip()
    s, at = site(request), now(request)
    context: dict[str, Any] = {
        "page": "retention",
        "items": None,
        "rows": [],
        "subject": subject_id,
    }
    if s.keyring is None:
        raise ConsoleRefusal(503, "No master key", "This server has no master key to read with.")
    try:
        with write_scope(s.sessions) as db:
            found = read_isolated(
                db,
                s.keyring,
                subject_id,
                actor=who.actor,
                now=at,
                policy_version=s.policy.version,
                datasets=s.datasets,
            )
    except UnknownSubject:
        context["error"] = "'subject': there is no subject with that id"
        return render_console(request, "console/isolated.html", context, status_code=404)
    context["items"] = found.items
    context["rows"] = found.rows
    if found.unreadable:
        context["unreadable"] = found.unreadable
    return render_console(request, "console/isolated.html", context)
