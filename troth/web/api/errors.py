"""Every error the API answers, in one JSON shape that names the fields at fault.

``{"error": {"status": 422, "message": "...", "fields": [{"field": "events[3].purpose",
"in": "body", "message": "..."}]}}``. A field's submitted value is never repeated back (it can be
personal data, and error responses end up in callers' logs), and an unexpected exception is
answered without details and logged without its message, which can hold data too.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("troth.web.api")

LOCATIONS = ("body", "query", "path", "header", "cookie")
# Prefixes pydantic puts before a validator's own message.
_MESSAGE_PREFIXES = ("Value error, ", "Assertion failed, ")


class FieldError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    field: str = Field(description="The field, as a path: `events[3].purpose`, `limit`")
    in_: str = Field(alias="in", description="Where it was: body, query, path, header or cookie")
    message: str = Field(description="What is wrong with it (never its value)")


class ErrorDetail(BaseModel):
    status: int = Field(description="The HTTP status, repeated")
    message: str = Field(description="What went wrong, for a person to read")
    fields: list[FieldError] = Field(description="The fields at fault; empty for other errors")


class ErrorBody(BaseModel):
    """How every API error is answered."""

    error: ErrorDetail


class InvalidInput(Exception):
    """Raise from a route when input its schema let through is still wrong, per field.

    For the checks only a service can make (a purpose the policy does not declare, an identity
    that does not normalise): ``raise InvalidInput(("events[3].purpose", "is not a declared
    purpose"))``. Answered 422 in the same shape as schema errors. Name the field, not its value.
    """

    def __init__(self, *fields: tuple[str, str], location: str = "body") -> None:
        if not fields:
            raise ValueError("InvalidInput needs at least one (field, message)")
        if location not in LOCATIONS:
            raise ValueError(f"location must be one of {', '.join(LOCATIONS)}, not {location!r}")
        self.fields = [{"field": f, "in": location, "message": m} for f, m in fields]
        super().__init__("; ".join(f"{f}: {m}" for f, m in fields))


def error_response(
    status: int,
    message: str,
    *,
    fields: Sequence[dict[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"status": status, "message": message, "fields": list(fields)}}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """pydantic's errors as ``{"field", "in", "message"}``, without the submitted values."""
    found: list[dict[str, str]] = []
    for error in errors:
        location, path = field_path(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "malformed")
            message = f"The body is not valid JSON: {reason}"
            path = location
        else:
            message = str(error.get("msg", "is not valid"))
            for prefix in _MESSAGE_PREFIXES:
                message = message.removeprefix(prefix)
        entry = {"field": path, "in": location, "message": message}
        if entry not in found:
            found.append(entry)
    return found


def field_path(loc: Sequence[str | int]) -> tuple[str, str]:
    """``("body", "events", 3, "purpose")`` as ``("body", "events[3].purpose")``.

    A value at the top of its location (the whole body) is named by the location itself.
    """
    parts = list(loc)
    location = str(parts.pop(0)) if parts and parts[0] in LOCATIONS else "body"
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return location, path or location


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _invalid(field_errors(exc.errors()))


def _invalid(fields: list[dict[str, str]]) -> JSONResponse:
    noun = "field is" if len(fields) == 1 else "fields are"
    message = f"The request is not valid: {len(fields)} {noun} wrong"
    return error_response(422, message, fields=fields)


async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInput)
    return _invalid(exc.fields)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = str(exc.detail)
    if message == HTTPStatus(status).phrase:  # the default: say more
        if status == 404:
            root = request.scope.get("root_path", "").rstrip("/")
            message = f"Not found: there is no such endpoint (they are listed at {root}/docs)"
        elif status == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"Method {request.method} is not allowed here; allowed: {allowed}"
    return error_response(status, message, headers=exc.headers)


class UnexpectedErrors:
    """Answer an unhandled exception with a bare 500 and log where it happened, not what it said.

    The exception's message, the source lines and the request's body are left out of the log:
    any of them can hold personal data (a database error quotes the values it was given). The
    type and the files, lines and functions it passed through are enough to find the fault.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            stack = "\n".join(
                f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
                for frame in traceback.extract_tb(exc.__traceback__)
            )
            log.error(
                "unexpected %s in %s %s\n%s",
                type(exc).__qualname__,
                scope.get("method", ""),
                scope.get("path", ""),
                stack,
            )
            if started:
                # Too late for an error response; the server closes the connection instead.
                return
            response = error_response(500, "Something went wrong on our side; it was logged")
            await response(scope, receive, send)
