"""The API's own reference: its OpenAPI document and an interactive page reading it.

FastAPI writes the OpenAPI document from the routes; this module adds what it cannot know: the
scope each operation needs (``x-troth-scopes`` and a line in its description), the 401, 403 and
413 answers, and the real shape of every error (FastAPI would describe its own 422 body).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse

from .auth import api_key_header, bearer, route_requirements
from .errors import ErrorBody

SWAGGER_ORIGIN = "https://cdn.jsdelivr.net"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def install_reference(api: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Serve ``/openapi.json`` with troth's additions, and the reference page at ``/docs``.

    ``routers`` are the ones included in ``api``: what each operation requires is read from
    their routes' dependencies.
    """
    requirements = {
        (route.path_format, method.lower()): route_requirements(route)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    generate = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            _annotate(generate(), requirements)
        assert api.openapi_schema is not None
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    api.add_api_route("/docs", _reference_page, methods=["GET"], include_in_schema=False)


def _annotate(
    schema: dict[str, Any], requirements: dict[tuple[str, str], list[str] | None]
) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs", {}))
    components["ErrorBody"] = error_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    schemes = schema["components"].setdefault("securitySchemes", {})
    for scheme in (bearer, api_key_header):
        schemes[scheme.scheme_name] = scheme.model.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _annotate_operation(operation, requirements.get((path, method)))


def _annotate_operation(operation: dict[str, Any], scopes: list[str] | None) -> None:
    responses = operation.setdefault("responses", {})

    def error(status: int, description: str) -> None:
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": _ERROR_REF}},
        }

    if "422" in responses:
        error(422, "Invalid input: each field at fault is named")
    if "requestBody" in operation:
        error(413, "The request body is larger than the limit")
    if scopes is None:
        return
    operation["security"] = [{bearer.scheme_name: []}, {api_key_header.scheme_name: []}]
    error(401, "No API key, or one that is malformed, unknown or revoked")
    if scopes:
        error(403, "The API key lacks a scope this operation requires")
        needed = ", ".join(f"`{scope}`" for scope in scopes)
    else:
        needed = "any valid API key"
    operation["x-troth-scopes"] = scopes
    described = operation.get("description", "").rstrip()
    operation["description"] = f"{described}\n\n**Requires:** {needed}.".lstrip()


def _reference_page(request: Request) -> HTMLResponse:
    """Swagger UI, loaded from jsDelivr by the reader's browser; the API itself loads nothing.

    Its page gets its own Content-Security-Policy: scripts from that one origin and the page's
    inline script by hash, and requests only to this site.
    """
    root = request.scope.get("root_path", "").rstrip("/")
    page = get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{request.app.title} reference",
        swagger_favicon_url="data:,",
    )
    html = bytes(page.body).decode("utf-8")
    hashes = " ".join(
        "'sha256-{}'".format(
            base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        )
        for script in _INLINE_SCRIPT.findall(html)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {SWAGGER_ORIGIN} {hashes}; "
        f"style-src {SWAGGER_ORIGIN} 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page
