"""The largest request body the API reads, enforced before anything parses it."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

DEFAULT_MAX_BODY_BYTES = 256 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes the limit; answered as a 413.

    An HTTPException, so that FastAPI, reading the body for a route, passes it on unchanged
    instead of turning it into a 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes")


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413.

    A ``Content-Length`` over the limit is refused before any of the body is read. A body sent
    without one (chunked), or longer than it claimed, is counted as it arrives, and reading
    stops with :class:`BodyTooLarge` as soon as the count passes the limit: at most one chunk
    more than the limit is ever held in memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("the body size limit cannot be negative")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = _declared_length(scope)
        except ValueError:
            response = error_response(400, "The Content-Length header is not a number of bytes")
            await response(scope, receive, send)
            return
        if declared is not None and declared > self.max_bytes:
            await error_response(413, BodyTooLarge(self.max_bytes).detail)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length header's value; ValueError if it is not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if not (text.isascii() and text.isdigit()):
                raise ValueError(text)
            return int(text)
    return None
