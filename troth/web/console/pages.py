"""The console's own pages: the signed-in person's home, and rendering with the console layout."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from troth.staff import ROLE_NAMES, Role, SignedIn

from ..site import render
from .auth import PREFIX, require_staff

router = APIRouter(prefix=PREFIX)

# The console's pages and the roles each admits; the navigation shows a person only theirs.
AUDIT_ROLES = (Role.admin, Role.privacy_officer, Role.auditor)
# The request queue and pages: the auditor reads them; agents work them (start reviews, mark
# recipients told); approving, denying and extending are decisions for an officer or an admin.
REQUEST_ROLES = (Role.admin, Role.privacy_officer, Role.agent, Role.auditor)
WORK_ROLES = (Role.admin, Role.privacy_officer, Role.agent)
DECIDE_ROLES = (Role.admin, Role.privacy_officer)
# Aggregate figures, for those who oversee the work.
DASHBOARD_ROLES = (Role.admin, Role.privacy_officer, Role.auditor)
# The retention plan, legal holds and the review report: read by those who oversee; holds are
# placed and lifted by an officer or an admin.
RETENTION_ROLES = (Role.admin, Role.privacy_officer, Role.auditor)
# Isolated items (a retention rule's `isolate`) are readable by the auditor alone.
ISOLATED_ROLES = (Role.auditor,)
HOLD_ROLES = (Role.admin, Role.privacy_officer)
# The retention periods agreed with clients: on the retention page for those who read it; set
# and cleared, as holds are placed and lifted, by an officer or an admin.
OVERRIDE_ROLES = HOLD_ROLES
NAVIGATION = (
    ("requests", "Requests", "/requests", REQUEST_ROLES),
    ("dashboard", "Dashboard", "/dashboard", DASHBOARD_ROLES),
    ("retention", "Retention", "/retention", RETENTION_ROLES),
    ("audit", "Audit trail", "/audit", AUDIT_ROLES),
)


def render_console(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    who: SignedIn | None = getattr(request.state, "staff", None)
    navigation = []
    if who is not None and who.verified:
        navigation = [
            (key, label, path) for key, label, path, roles in NAVIGATION if who.role in roles
        ]
    base = {
        "staff": who,
        "role_name": ROLE_NAMES[who.role] if who else "",
        "navigation": navigation,
    }
    return render(request, template, base | context, status_code=status_code)


@router.get("", name="console_home")
def home(request: Request, who: SignedIn = Depends(require_staff())) -> Response:
    return render_console(request, "console/home.html", {"page": "home"})
