"""The request queue and each request's page: the clocks, the timeline, the plan, and the
decisions staff take on a request.

Every change goes through the rights service functions (``start_review``, ``approve``, ``deny``,
``extend``, ``complete_recipient_task``), so it is checked by the state machine and audited in
the same transaction as it happens. Agents work the queue (start reviews, mark recipients told);
approving, denying and extending a deadline are decisions for a privacy officer or an admin.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from troth.rights import (
    ExtensionRefused,
    IllegalTransition,
    QueueFilters,
    RequestInputError,
    RequestKind,
    RequestState,
    UnknownRequest,
    UnknownTask,
    approve,
    complete_recipient_task,
    deny,
    extend,
    get_request,
    next_due,
    plan_request,
    queue,
    recipient_tasks,
    start_review,
    timeline,
)
from troth.rights.plan import read_proposed_values
from troth.rights.states import FINAL
from troth.staff import SignedIn
from troth.store import write_scope

from ..site import site
from .auth import (
    PREFIX,
    ConsoleRefusal,
    check_csrf,
    form_fields,
    keyring_of,
    now,
    require_staff,
    url,
)
from .pages import DECIDE_ROLES, REQUEST_ROLES, WORK_ROLES, render_console

router = APIRouter(prefix=PREFIX)

# What a done action says on the request's page, after the redirect.
DONE = {
    "review": "Review started.",
    "approve": "Approved: its execution is queued and runs in the background.",
    "deny": "Denied: the requester is emailed the reason.",
    "extend": "Deadline extended: the requester is emailed the new date and the reason.",
    "notified": "Recipient marked as told.",
}


def time_left(due: datetime | None, at: datetime) -> str:
    """How long is left until ``due``, or how long it is overdue, in days and hours."""
    if due is None:
        return ""
    gap = due - at
    late = gap <= timedelta(0)
    hours = int(abs(gap).total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    if days:
        words = f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    elif hours:
        words = f"{hours} h"
    else:
        words = "under an hour"
    return f"overdue by {words}" if late else f"{words} left"


def _filters(params: dict[str, str], errors: dict[str, str]) -> QueueFilters:
    state, kind, overdue = params["state"], params["kind"], params["overdue"]
    if state and state not in {s.value for s in RequestState}:
        errors["state"] = "'state' is not a request state"
    if kind and kind not in {k.value for k in RequestKind}:
        errors["kind"] = "'kind' is not a kind of request"
    if overdue not in ("", "1"):
        errors["overdue"] = "'overdue' is 1 or left out"
    return QueueFilters(state=state or None, kind=kind or None, overdue_only=overdue == "1")


@router.get("/requests", name="console_requests")
def queue_page(
    request: Request, who: SignedIn = Depends(require_staff(*REQUEST_ROLES))
) -> Response:
    params = {
        name: request.query_params.get(name, "").strip() for name in ("state", "kind", "overdue")
    }
    errors: dict[str, str] = {}
    filters = _filters(params, errors)
    context: dict[str, Any] = {
        "page": "requests",
        "params": params,
        "errors": errors,
        "states": [s.value for s in RequestState],
        "kinds": [k.value for k in RequestKind],
    }
    if errors:
        return render_console(request, "console/requests.html", context, status_code=400)
    at = now(request)
    with site(request).sessions() as db:
        entries = queue(db, filters, at)
        rows = [
            {
                "request": entry.request,
                "overdue": entry.overdue,
                "next": entry.next_deadline,
                "acknowledge_left": _clock(entry.request, "acknowledge", at),
                "complete_left": _clock(entry.request, "complete", at),
            }
            for entry in entries
        ]
    context |= {"rows": rows, "now": at}
    return render_console(request, "console/requests.html", context)


def _clock(rights_request: Any, which: str, at: datetime) -> str:
    """The time left on one of the request's clocks, or what stopped it."""
    if which == "acknowledge" and rights_request.acknowledged_at is not None:
        return "acknowledged"
    if RequestState(rights_request.state) in FINAL:
        return rights_request.state
    due = rights_request.acknowledge_by if which == "acknowledge" else rights_request.complete_by
    return time_left(due, at)


def _no_such_request() -> ConsoleRefusal:
    return ConsoleRefusal(404, "No such request", "There is no request with that id.")


def _request_page(
    request: Request,
    who: SignedIn,
    request_id: str,
    *,
    error: str | None = None,
    status: int = 200,
    proposed: dict[str, str] | None = None,
) -> Response:
    keyring = keyring_of(request)
    at = now(request)
    s = site(request)
    with s.sessions() as db:
        try:
            found = get_request(db, request_id)
        except UnknownRequest:
            raise _no_such_request() from None
        state = RequestState(found.state)
        which, due = next_due(found)
        # The plan says what would be done now; once the request is closed its outcome says
        # what was done instead (and a destroyed key could no longer be read for a plan).
        plan = None if state in FINAL else plan_request(db, s.policy, keyring, found, at)
        context: dict[str, Any] = {
            "page": "requests",
            "r": found,
            "state": state,
            "events": timeline(db, found.id),
            "tasks": recipient_tasks(db, found.id),
            "plan": plan,
            "next": which,
            "next_left": time_left(due, at),
            "overdue": due is not None and due <= at,
            "acknowledge_left": _clock(found, "acknowledge", at),
            "complete_left": _clock(found, "complete", at),
            "error": error,
            "done": DONE.get(request.query_params.get("done", "")),
            "can_review": who.role in WORK_ROLES and state is RequestState.verified,
            "can_decide": who.role in DECIDE_ROLES and state is RequestState.in_review,
            "can_deny": who.role in DECIDE_ROLES
            and state in (RequestState.received, RequestState.verified, RequestState.in_review),
            "can_extend": who.role in DECIDE_ROLES and state not in FINAL and not found.extended,
            "can_notify": who.role in WORK_ROLES,
            "proposed": proposed,
            "can_read_proposed": who.role in WORK_ROLES
            and found.kind == "correction"
            and found.proposed is not None
            and state not in FINAL,
        }
        return render_console(request, "console/request.html", context, status_code=status)


@router.get("/requests/{request_id}", name="console_request")
def request_page(
    request: Request, request_id: str, who: SignedIn = Depends(require_staff(*REQUEST_ROLES))
) -> Response:
    return _request_page(request, who, request_id)


def _act(
    request: Request,
    who: SignedIn,
    form: dict[str, str],
    request_id: str,
    done: str,
    change: Callable[[Session, datetime], object],
) -> Response:
    """The body every action on a request shares: check the form's CSRF token, make the change
    (given the session and the time it happens) in one transaction, and show the result: the
    request's page with a note of what was done, or again with the refusal in words if the
    rights domain refused. The role was checked by the route's dependency; the rights service
    the change calls writes the audit event and the timeline entry."""
    check_csrf(form, who.csrf_token)
    at = now(request)
    try:
        with write_scope(site(request).sessions) as db:
            change(db, at)
    except (UnknownRequest, UnknownTask):
        raise _no_such_request() from None
    except RequestInputError as exc:
        return _request_page(request, who, request_id, error=exc.message, status=400)
    except (IllegalTransition, ExtensionRefused) as exc:
        return _request_page(request, who, request_id, error=str(exc), status=409)
    query = urlencode({"done": done})
    return RedirectResponse(url(request, f"/requests/{request_id}?{query}"), status_code=303)


@router.post("/requests/{request_id}/proposed", name="console_request_proposed")
def proposed_action(
    request: Request,
    request_id: str,
    who: SignedIn = Depends(require_staff(*WORK_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    """Show a correction's proposed values: a read of personal data, so a POST, and audited."""
    check_csrf(form, who.csrf_token)
    s, keyring, at = site(request), keyring_of(request), now(request)
    try:
        with write_scope(s.sessions) as db:
            found = get_request(db, request_id)
            if found.kind != "correction" or RequestState(found.state) in FINAL:
                raise ConsoleRefusal(
                    409, "Nothing to review", "Only an open correction has values to review."
                )
            values = read_proposed_values(
                db, keyring, found, actor=who.actor, now=at, policy_version=s.policy.version
            )
    except UnknownRequest:
        raise _no_such_request() from None
    return _request_page(request, who, request_id, proposed=values)


@router.post("/requests/{request_id}/review", name="console_request_review")
def review_action(
    request: Request,
    request_id: str,
    who: SignedIn = Depends(require_staff(*WORK_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    return _act(
        request,
        who,
        form,
        request_id,
        "review",
        lambda db, at: start_review(db, request_id, now=at, actor=who.actor),
    )


@router.post("/requests/{request_id}/approve", name="console_request_approve")
def approve_action(
    request: Request,
    request_id: str,
    who: SignedIn = Depends(require_staff(*DECIDE_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    return _act(
        request,
        who,
        form,
        request_id,
        "approve",
        lambda db, at: approve(db, request_id, now=at, actor=who.actor),
    )


@router.post("/requests/{request_id}/deny", name="console_request_deny")
def deny_action(
    request: Request,
    request_id: str,
    who: SignedIn = Depends(require_staff(*DECIDE_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    s, keyring = site(request), keyring_of(request)
    reason = form.get("reason", "")
    return _act(
        request,
        who,
        form,
        request_id,
        "deny",
        lambda db, at: deny(
            db, s.policy, keyring, request_id, reason=reason, now=at, actor=who.actor
        ),
    )


@router.post("/requests/{request_id}/extend", name="console_request_extend")
def extend_action(
    request: Request,
    request_id: str,
    who: SignedIn = Depends(require_staff(*DECIDE_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    s, keyring = site(request), keyring_of(request)
    reason = form.get("reason", "")
    return _act(
        request,
        who,
        form,
        request_id,
        "extend",
        lambda db, at: extend(
            db, s.policy, keyring, request_id, reason=reason, now=at, actor=who.actor
        ),
    )


@router.post("/requests/{request_id}/tasks/{task_id}/done", name="console_request_task_done")
def task_done_action(
    request: Request,
    request_id: str,
    task_id: int,
    who: SignedIn = Depends(require_staff(*WORK_ROLES)),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    def mark(db: Session, at: datetime) -> None:
        # The task must belong to the request whose page sent the form.
        if all(task.id != task_id for task in recipient_tasks(db, request_id)):
            raise UnknownTask(task_id)
        complete_recipient_task(db, task_id, now=at, actor=who.actor)

    return _act(request, who, form, request_id, "notified", mark)
