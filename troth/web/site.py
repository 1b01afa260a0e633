"""What every request handler needs: the served policy, database sessions and templates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from troth.consent import DecisionCache
from troth.datasets import Connected
from troth.declaration import Policy
from troth.subjects import Keyring

Clock = Callable[[], datetime]

# Where the JSON API is mounted (troth.web.api): here, so that pages and API agree on it.
API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Site:
    """The app's state: set once at creation, read by every request."""

    policy: Policy
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    policy_markdown: str
    policy_html: str
    keyring: Keyring | None = None
    decisions: DecisionCache | None = None
    public_url: str | None = None
    # Console cookies are Secure unless turned off for plain-http loopback (make run, tests).
    secure_cookies: bool = True
    # The company databases the worker reaches into (troth serve --datasets), for the console.
    datasets: Connected | None = None


def site(request: Request) -> Site:
    current: Site = request.app.state.site
    return current


def get_session(request: Request) -> Iterator[Session]:
    """A read-only session per request (FastAPI dependency)."""
    with site(request).sessions() as session:
        yield session


def public_base(request: Request) -> str:
    """Where people reach this app, for links in emails: the configured public URL, else the
    URL this request came in on."""
    configured = site(request).public_url
    if configured:
        return configured
    # Inside the mounted API, base_url ends in the mount's path (/api/v1): the site is above it.
    return str(request.base_url).rstrip("/").removesuffix(API_PREFIX)


def long_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def long_datetime(value: datetime) -> str:
    return f"{value.day} {value:%B %Y, %H:%M} UTC"


templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.filters["long_date"] = long_date
templates.env.filters["long_datetime"] = long_datetime


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """Render a page with the organization's name and language available to the layout."""
    policy = site(request).policy
    base = {
        "organization": policy.organization_name,
        "lang": policy.declaration.policy.language,
        "root": request.scope.get("root_path", "").rstrip("/"),
    }
    return templates.TemplateResponse(request, template, base | context, status_code=status_code)
