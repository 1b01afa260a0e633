"""``create_app``: the FastAPI application serving a company's published privacy policy."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from troth.children import expire_held_children
from troth.consent import DecisionCache, on_version_recorded
from troth.datasets import Connected
from troth.declaration import Policy
from troth.declaration.render import render_html_fragment, render_markdown
from troth.jobs import WorkerLoop
from troth.notify import DeliveryLoop, Transport, deliver_due
from troth.notify.loop import DEFAULT_INTERVAL
from troth.publishing import publish
from troth.rights import worker_pass
from troth.store import display_url, make_engine, make_sessionmaker
from troth.subjects import Keyring

from . import console
from .api import API_PREFIX, create_api
from .api.errors import error_response
from .banner import router as banner_router
from .center import router as center_router
from .children import router as children_router
from .pages import router
from .publications import router as publications_router
from .site import Clock, Site, render

log = logging.getLogger(__name__)
access_log = logging.getLogger("troth.web.access")

# Inline styles only, no scripts, nothing from other sites. A route that needs more (the banner's
# demo page) sets its own Content-Security-Policy; the middleware keeps what a response has.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


# A held child's data outlives its window by at most this long (the window is days long).
CHILDREN_SWEEP_INTERVAL = 60.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    policy: Policy,
    db_url: str,
    *,
    clock: Clock = utc_now,
    keyring: Keyring | None = None,
    transport: Transport | None = None,
    mail_from: str | None = None,
    delivery_interval: float = DEFAULT_INTERVAL,
    public_url: str | None = None,
    secure_cookies: bool = True,
    children_sweep_interval: float = CHILDREN_SWEEP_INTERVAL,
    run_jobs: bool = False,
    worker_interval: float = DEFAULT_INTERVAL,
    datasets: Connected | None = None,
) -> FastAPI:
    """The web app for ``policy``; on startup it migrates the database and records the version.

    Startup fails with :class:`~troth.publishing.VersionConflict` if the policy's version
    string was already published with different content. ``keyring`` holds the master key
    that protects subjects' identities and staff accounts; without one, routes that store
    identities and the console answer 503. With a ``transport``, a ``mail_from`` address and a
    keyring, a background loop delivers the outbox every ``delivery_interval`` seconds while the
    app runs. ``public_url`` is where people reach the app (links in emails point there); without
    it, the URL a request came in on. ``secure_cookies=False`` lets the console's cookies travel
    over plain http: only for a server on a loopback address (`make run`, tests). When the
    declaration has a ``children`` section, another loop deletes, every
    ``children_sweep_interval`` seconds, the children's data no parent consented to in time.
    With ``run_jobs`` and a keyring, one worker runs in-process every ``worker_interval``
    seconds: it executes approved rights requests and queues deadline reminders (``troth
    serve`` does this; ``troth worker`` runs more workers elsewhere).
    """
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    decisions = DecisionCache(policy, sessions, clock=None if clock is utc_now else clock)
    state = Site(
        policy=policy,
        engine=engine,
        sessions=sessions,
        clock=clock,
        keyring=keyring,
        decisions=decisions,
        secure_cookies=secure_cookies,
        policy_markdown=render_markdown(policy),
        policy_html=render_html_fragment(policy),
        public_url=public_url.rstrip("/") if public_url else None,
        datasets=datasets,
    )
    delivery = None
    if transport is not None and mail_from is not None and keyring is not None:
        delivery = DeliveryLoop(
            partial(_deliver, sessions, transport, clock, keyring, mail_from), delivery_interval
        )

    sweep = None
    if policy.declaration.children is not None:
        sweep = DeliveryLoop(
            partial(_sweep_children, sessions, clock),
            children_sweep_interval,
            name="children sweep",
        )
    jobs = None
    if run_jobs and keyring is not None:
        jobs = WorkerLoop(
            partial(_work, sessions, policy, keyring, clock, public_url or "", datasets),
            worker_interval,
        )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        [(row, created)] = await run_in_threadpool(
            partial(publish, on_recorded=on_version_recorded), engine, [policy], clock()
        )
        decisions.start()
        if delivery is not None:
            delivery.start()
            log.info("delivering mail to %s", transport.description if transport else "")
        if jobs is not None:
            jobs.start()
        log.info(
            "serving policy version %s (hash %s) from %s; %s",
            row.version,
            row.short_hash,
            display_url(engine.url),
            "recorded it as a new version" if created else "already recorded",
        )
        if sweep is not None:
            sweep.start()
        yield
        if sweep is not None:
            sweep.stop()
        if jobs is not None:
            jobs.stop()
        if delivery is not None:
            delivery.stop()
        decisions.close()
        engine.dispose()

    app = FastAPI(
        title=f"{policy.organization_name} privacy",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.site = state
    app.include_router(router)
    app.include_router(banner_router)
    app.include_router(publications_router)
    app.include_router(center_router)
    console.install(app)
    app.include_router(children_router)
    app.mount(API_PREFIX, create_api(state))
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.middleware("http")(_access_log_and_headers)
    return app


def _deliver(
    sessions: sessionmaker[Session],
    transport: Transport,
    clock: Clock,
    keyring: Keyring,
    mail_from: str,
) -> None:
    deliver_due(sessions, transport, clock(), keyring=keyring, sender=mail_from)


def _sweep_children(sessions: sessionmaker[Session], clock: Clock) -> None:
    expire_held_children(sessions, clock())


def _work(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    clock: Clock,
    base_url: str,
    datasets: Connected | None,
) -> None:
    worker_pass(sessions, policy, keyring, clock(), base_url=base_url, datasets=datasets)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    root = request.scope.get("root_path", "").rstrip("/")
    if request.url.path.removeprefix(root).startswith("/api/"):
        # The API's callers are scripts: they get JSON, not an HTML page.
        return error_response(exc.status_code, str(exc.detail), headers=exc.headers)
    titles = {404: "Page not found", 405: "Method not allowed", 429: "Too many requests"}
    context = {"status": exc.status_code, "title": titles.get(exc.status_code, "Error")}
    response = render(request, "error.html", context, status_code=exc.status_code)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def _route_of(request: Request) -> str:
    """The path as its route's template (``/api/v1/subjects/{subject_id}/consents``), never as
    sent: a path can carry whatever a caller put in it, an email address included."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "(no route)"
    root = request.scope.get("root_path", "")
    return f"{root.rstrip('/')}{template}" if root and not template.startswith(root) else template


async def _access_log_and_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    # No client address and no query string: both can identify a person.
    started = time.perf_counter()
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        # A response with its own policy keeps it (the API's reference page loads its scripts).
        response.headers.setdefault(name, value)
    elapsed_ms = (time.perf_counter() - started) * 1000
    access_log.info(
        "%s %s %d %.1fms", request.method, _route_of(request), response.status_code, elapsed_ms
    )
    return response
