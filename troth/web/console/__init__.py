"""The privacy team's console at ``/console``: sign-in with a second factor, and its pages.

Server-rendered (Jinja2), no scripts: every page works with the keyboard and on a phone. Pages
declare the roles they admit with :func:`require_staff`; none answers without a full session.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from .audit import router as audit_router
from .auth import PREFIX, ConsoleRefusal, SignInRequired, require_staff
from .dashboard import router as dashboard_router
from .pages import render_console
from .pages import router as pages_router
from .requests import router as requests_router
from .retention import router as retention_router
from .signin import router as signin_router

__all__ = ["PREFIX", "install", "require_staff"]


def install(app: FastAPI) -> None:
    """Add the console's routes to ``app`` and the handlers that turn its refusals into pages."""
    for router in (
        signin_router,
        pages_router,
        requests_router,
        dashboard_router,
        retention_router,
        audit_router,
    ):
        # The routers carry the prefix themselves, so that each route's path (which the
        # access log shows) is its whole path.
        app.include_router(router, include_in_schema=False)
    app.add_exception_handler(SignInRequired, _to_sign_in)  # type: ignore[arg-type]
    app.add_exception_handler(ConsoleRefusal, _refused)  # type: ignore[arg-type]


async def _to_sign_in(request: Request, exc: SignInRequired) -> Response:
    return RedirectResponse(exc.to, status_code=303)


async def _refused(request: Request, exc: ConsoleRefusal) -> Response:
    context = {"title": exc.title, "message": exc.message, "status": exc.status}
    return render_console(request, "console/refused.html", context, status_code=exc.status)
