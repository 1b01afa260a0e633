"""The cookie banner a company adds to its own site with one script tag (P7).

- ``GET /banner.js``: vanilla-cookieconsent (vendored under ``static/cookieconsent``) and troth's
  glue (``static/banner-glue.js``) in one script, configured from the declaration.
- ``GET /banner.css``: the library's stylesheet, which the script links by itself.
- ``GET /banner/demo``: a sample company page using the banner.
- ``POST /api/v1/banner/choices``: where the script posts each choice, from any origin.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from troth.consent import (
    ConsentInputError,
    CookieChoice,
    record_cookie_choice,
    renewal_generation,
)
from troth.consent.banner import NoCookiesDeclared, banner_config
from troth.store import write_scope
from troth.subjects import IdentityError, normalise

from .api.errors import error_response
from .ratelimit import RateLimit
from .site import get_session, render, site

router = APIRouter()

LIBRARY_VERSION = "3.1.0"
STATIC = Path(__file__).with_name("static")
LIBRARY = STATIC / "cookieconsent"
SCRIPT_MAX_AGE = 300  # seconds; a changed policy reaches visitors within five minutes
DEMO_COOKIE_MAX_AGE = 365 * 24 * 3600


@cache
def _static_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def script_json(value: Any) -> str:
    """JSON that is safe inside a script: no ``</script>``, ``<!--`` or HTML entity can form."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def banner_settings(request: Request, revision: int) -> dict[str, Any]:
    """The banner's settings, with absolute URLs derived from this request.

    Raises :class:`~troth.consent.banner.NoCookiesDeclared` for a policy without cookies.
    """
    settings = banner_config(
        site(request).policy,
        revision=revision,
        endpoint=str(request.url_for("banner_choices")),
        policy_url=str(request.url_for("policy")),
    )
    settings["stylesheet"] = str(request.url_for("banner_stylesheet"))
    settings["gpcSignal"] = request.headers.get("sec-gpc") == "1"
    return settings


def banner_script(settings: dict[str, Any]) -> str:
    """The whole script: the library's licence, the library, then troth's glue called with
    ``settings``. The library is wrapped so that it always defines ``window.CookieConsent``,
    even on a page with a module loader (AMD ``define`` or CommonJS ``module``)."""
    licence = _static_text(LIBRARY / "LICENSE").replace("*/", "* /")
    return (
        f"/*! troth cookie banner. Includes vanilla-cookieconsent {LIBRARY_VERSION}:\n"
        f"{licence}*/\n"
        "(function () { var define, module, exports;\n"
        f"{_static_text(LIBRARY / 'cookieconsent.umd.js')}\n"
        "}).call(window);\n"
        f"{_static_text(STATIC / 'banner-glue.js').rstrip()}({script_json(settings)});\n"
    )


def _cached(request: Request, body: str, media_type: str, vary: str | None = None) -> Response:
    """``body`` with a short max-age and an ETag; 304 when the browser already has it."""
    etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    headers = {"Cache-Control": f"public, max-age={SCRIPT_MAX_AGE}", "ETag": etag}
    if vary:
        headers["Vary"] = vary
    wanted = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in wanted or f"W/{etag}" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/banner.js", name="banner_script")
def banner_script_route(request: Request, session: Session = Depends(get_session)) -> Response:
    """The one script a company adds to its pages; 404 when no cookie categories are declared.

    Its revision is how many times fresh consent has been required, so the banner asks again
    after a material policy change.
    """
    try:
        settings = banner_settings(request, revision=renewal_generation(session))
    except NoCookiesDeclared:
        return _no_banner(request)
    return _cached(request, banner_script(settings), "text/javascript", vary="Sec-GPC")


@router.get("/banner.css", name="banner_stylesheet")
def banner_stylesheet(request: Request) -> Response:
    return _cached(request, _static_text(LIBRARY / "cookieconsent.css"), "text/css")


@router.get("/banner/demo", name="banner_demo")
def banner_demo(request: Request) -> Response:
    """A sample company page: the one script tag, and a script per optional cookie category
    that the banner runs only once that category is accepted."""
    policy = site(request).policy
    cookies = policy.declaration.cookies
    if cookies is None or not cookies.categories:
        return _no_banner(request)
    nonce = secrets.token_urlsafe(18)
    gated = []
    for category in cookies.categories:
        declared = [c for c in cookies.cookies if c.category == category.key]
        if category.key == "essential" or not declared:
            continue
        cookie = declared[0].name
        gated.append(
            {
                "category": category.key,
                "name": category.name,
                "cookie": cookie,
                "code": (
                    f"document.cookie = {script_json(cookie)} + "
                    f'"=demo; path=/; max-age={DEMO_COOKIE_MAX_AGE}; SameSite=Lax";'
                ),
            }
        )
    response = render(
        request,
        "banner_demo.html",
        {"nonce": nonce, "gated": gated, "script_url": request.url_for("banner_script")},
    )
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' "
        "'unsafe-inline'; img-src 'self'; connect-src 'self'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return response


def _no_banner(request: Request) -> Response:
    """404: the policy declares no cookie categories, so there is no banner to serve."""
    return render(request, "error.html", {"status": 404, "title": "No cookie banner"}, 404)


# Recording choices --------------------------------------------------------------------------

CHOICES_PATH = "/api/v1/banner/choices"
MAX_BODY = 4096  # bytes; a choice is a few hundred
# Any site may post choices, but never with cookies or credentials: the browser id is in the body.
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "POST",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}
# One visitor posts once per choice; a busy office behind one address still fits easily.
choices_rate_limit = RateLimit(rate=0.5, burst=30, headers=CORS_HEADERS)

CategoryKey = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]


class CookieChoiceBody(BaseModel):
    """What the banner's script posts: exactly these fields, nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    browser_id: Annotated[str, StringConstraints(min_length=16, max_length=128)]
    accepted: Annotated[list[CategoryKey], Field(max_length=5)]
    revision: Annotated[int, Field(ge=0, le=1_000_000)]
    language: (
        Annotated[
            str,
            StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$", max_length=16),
        ]
        | None
    ) = None
    page: Annotated[str, StringConstraints(pattern=r"^/", max_length=500)] | None = None
    gpc: bool = False

    @field_validator("browser_id")
    @classmethod
    def _browser_id(cls, value: str) -> str:
        try:
            return normalise("browser_id", value)
        except IdentityError as exc:
            raise ValueError(exc.reason) from None


class _BadChoice(Exception):
    """A request the endpoint refuses: its status, the field at fault and why."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _field(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a person writes it: ``accepted[1]``, ``browser_id``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _error(status: int, field: str, message: str) -> JSONResponse:
    """The API's error shape (docs/api.md), naming the field at fault."""
    where = "header" if field == "Content-Type" else "body"
    fields = [{"field": field, "in": where, "message": message}]
    return error_response(status, message, fields=fields, headers=CORS_HEADERS)


async def _read_body(request: Request) -> bytes:
    """The request body, refused unread beyond :data:`MAX_BODY` bytes."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise _BadChoice(415, "Content-Type", "send the choice as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _BadChoice(413, "body", f"the body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _BadChoice(413, "body", f"the body is larger than {MAX_BODY} bytes")
    return bytes(body)


def _parse(body: bytes) -> CookieChoiceBody:
    try:
        return CookieChoiceBody.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = _field(tuple(first["loc"]))
        if first["type"] == "extra_forbidden":
            known = ", ".join(CookieChoiceBody.model_fields)
            raise _BadChoice(422, field, f"unknown field; a choice has {known}") from None
        if first["type"] == "json_invalid":
            raise _BadChoice(422, "body", "the body is not valid JSON") from None
        message = first["msg"].removeprefix("Value error, ")
        raise _BadChoice(422, field, message) from None


@router.options(CHOICES_PATH, include_in_schema=False)
def banner_choices_preflight() -> Response:
    """CORS preflight: any origin may post a choice, without credentials."""
    return Response(status_code=204, headers=PREFLIGHT_HEADERS)


@router.api_route(
    CHOICES_PATH, methods=["GET", "HEAD", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
def banner_choices_other_methods() -> Response:
    """A clear 405 (the API mounted at /api/v1 would otherwise answer 404 for this path)."""
    return error_response(
        405,
        "only POST (and the OPTIONS preflight) are allowed here",
        headers={"Allow": "POST, OPTIONS"},
    )


@router.post(CHOICES_PATH, name="banner_choices", dependencies=[Depends(choices_rate_limit)])
async def banner_choices(request: Request) -> Response:
    """Record one banner choice for the browser id it carries.

    ``gpc`` is true when the request carries ``Sec-GPC: 1`` or the body says so. Errors are
    JSON naming the field: 413 (too large), 415 (not JSON), 422 (a field is wrong), 429 (too
    many requests from this address, with Retry-After). A refused choice records nothing.
    """
    try:
        choice = _parse(await _read_body(request))
    except _BadChoice as bad:
        return _error(bad.status, bad.field, bad.message)
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return _error(503, "server", "this server has no master key, so it cannot record consent")
    gpc = choice.gpc or request.headers.get("sec-gpc") == "1"

    def record() -> CookieChoice:
        with write_scope(s.sessions) as session:
            return record_cookie_choice(
                session,
                policy=s.policy,
                keyring=keyring,
                browser_id=choice.browser_id,
                accepted=choice.accepted,
                gpc=gpc,
                revision=choice.revision,
                language=choice.language,
                collection_point=choice.page,
                now=s.clock(),
            )

    try:
        try:
            result = await run_in_threadpool(record)
        except IntegrityError:
            # Two first choices from one browser raced to create its subject, and this one
            # lost (its transaction was rolled back whole): now the subject exists, so retry.
            result = await run_in_threadpool(record)
    except ConsentInputError as bad:
        return _error(422, bad.field, bad.message)
    recorded = [{"purpose": purpose, "state": state} for purpose, state in result.recorded]
    return JSONResponse({"recorded": recorded, "gpc": gpc}, headers=CORS_HEADERS)
