"""The JSON API, served at ``/api/v1``: server-to-server calls authenticated by API keys.

``create_api`` builds it as its own FastAPI application, which ``create_app`` mounts, so that it
has its own OpenAPI document (``/api/v1/openapi.json``), reference page (``/api/v1/docs``) and
JSON errors, apart from the HTML pages. Each module here contributes one router; list it in
``ROUTERS``. See docs/api.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from troth.apikeys import DEFAULT_TTL, KeyCache

from ..site import API_PREFIX, Site
from . import (
    children,
    clients,
    consents,
    decisions,
    publications,
    retention,
    rights_requests,
    subject_data,
    unsubscribe,
    vault,
    whoami,
)
from .auth import require_key, require_scope
from .errors import InvalidInput, UnexpectedErrors, http_error, invalid_input, validation_error
from .limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from .reference import install_reference

__all__ = [
    "API_PREFIX",
    "DEFAULT_MAX_BODY_BYTES",
    "ROUTERS",
    "InvalidInput",
    "create_api",
    "require_key",
    "require_scope",
]

# One router per module of the API, included in this order.
ROUTERS: list[APIRouter] = [
    whoami.router,
    consents.router,
    decisions.router,
    vault.router,
    subject_data.router,
    children.router,
    publications.router,
    unsubscribe.router,
    rights_requests.router,
    retention.router,
    clients.router,
]

_DESCRIPTION = """\
troth's JSON API for the company's own servers. Every call but this reference needs an API key
(`troth apikey create --scope SCOPE`), sent as `Authorization: Bearer troth_…` or `X-API-Key`.
Each operation says which scope it needs. Errors are JSON: `{"error": {"status", "message",
"fields": [{"field", "in", "message"}]}}`.
"""


def create_api(
    site: Site,
    *,
    routers: Sequence[APIRouter] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    key_ttl: timedelta = DEFAULT_TTL,
) -> FastAPI:
    """The API application for ``site``, to mount at :data:`API_PREFIX`.

    ``routers`` default to :data:`ROUTERS`. ``max_body_bytes`` is the largest request body read
    (larger ones get 413); ``key_ttl`` how long an API key's row is trusted from memory, so how
    long a revocation made elsewhere takes to be seen.
    """
    routers = ROUTERS if routers is None else routers
    api = FastAPI(
        title=f"{site.policy.organization_name} privacy API",
        version="1",
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.site = site
    api.state.key_cache = KeyCache(site.sessions, clock=site.clock, ttl=key_ttl)
    api.add_exception_handler(RequestValidationError, validation_error)
    api.add_exception_handler(InvalidInput, invalid_input)
    api.add_exception_handler(StarletteHTTPException, http_error)
    api.add_api_route("/", _index, methods=["GET"], include_in_schema=False)
    install_reference(api, routers)
    for router in routers:
        api.include_router(router)
    # Added last, so outermost: every error, the body limit's too, is caught and answered.
    api.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    api.add_middleware(UnexpectedErrors)
    return api


def _index(request: Request) -> dict[str, str]:
    root = request.scope.get("root_path", "").rstrip("/")
    return {"openapi": f"{root}/openapi.json", "reference": f"{root}/docs"}
