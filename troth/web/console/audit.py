"""The audit trail page: search by subject, actor, action and dates; verify the chain."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from troth.audit import EventQuery, search_events, verify_chain
from troth.staff import SignedIn

from ..site import site
from .auth import PREFIX, require_staff
from .pages import AUDIT_ROLES, render_console

router = APIRouter(prefix=PREFIX)

FIELDS = ("subject", "actor", "action", "from", "to")
MAX_FIELD = 200


def _day(value: str, field: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = f"'{field}' is not a date: give it as YYYY-MM-DD"
        return None


def _query(params: dict[str, str], errors: dict[str, str]) -> EventQuery:
    for field in ("subject", "actor", "action"):
        if len(params[field]) > MAX_FIELD:
            errors[field] = f"'{field}' is at most {MAX_FIELD} characters"
    since = _day(params["from"], "from", errors)
    until = _day(params["to"], "to", errors)
    if since and until and until < since:
        errors["to"] = "'to' is before 'from'"
    return EventQuery(
        subject_id=params["subject"] or None,
        actor_id=params["actor"] or None,
        action=params["action"] or None,
        since=datetime.combine(since, time(), UTC) if since else None,
        # "to" is a whole day: everything before the start of the next one.
        until=datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
    )


@router.get("/audit", name="console_audit")
def audit_page(request: Request, who: SignedIn = Depends(require_staff(*AUDIT_ROLES))) -> Response:
    params = {field: request.query_params.get(field, "").strip() for field in FIELDS}
    errors: dict[str, str] = {}
    query = _query(params, errors)
    page_text = request.query_params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 10**6 else 0
    if page == 0:
        errors["page"] = "'page' is a whole number from 1"
    context: dict[str, object] = {"page": "audit", "params": params, "errors": errors}
    if errors:
        return render_console(request, "console/audit.html", context, status_code=400)
    with site(request).sessions() as db:
        found = search_events(db, query, page=page)
    kept = {name: value for name, value in params.items() if value}
    context |= {
        "found": found,
        "details": {event.seq: json.dumps(event.details, sort_keys=True) for event in found.events},
        "previous": urlencode(kept | {"page": page - 1}) if page > 1 else None,
        "next": urlencode(kept | {"page": page + 1}) if page < found.pages else None,
    }
    return render_console(request, "console/audit.html", context)


@router.get("/audit/verify", name="console_audit_verify")
def verify_page(request: Request, who: SignedIn = Depends(require_staff(*AUDIT_ROLES))) -> Response:
    with site(request).sessions() as db:
        result = verify_chain(db)
    return render_console(request, "console/verify.html", {"page": "audit", "result": result})
