"""One-click unsubscribe pages (P6): the link in a marketing email's ``List-Unsubscribe``.

``GET /center/unsubscribe/{token}`` shows what the link stops and one button. ``POST`` with the
body ``List-Unsubscribe=One-Click`` (RFC 8058: what a mail program sends, and what the button
sends) stops it at once and answers 200. No cookie and no CSRF token is asked for: the signed
token in the URL is the proof, and unsubscribing twice changes nothing. A damaged link is
answered 400, an expired one 410, a subject that no longer exists 404; all as readable pages.
"""

from __future__ import annotations

from collections.abc import Callable
from email.parser import BytesParser
from email.policy import default
from typing import TypeVar

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from troth.notify import ExpiredLink, LinkError
from troth.notify.unsubscribe import ONE_CLICK, Unsubscribed, read_unsubscribe, unsubscribe
from troth.store import write_scope
from troth.subjects.registry import SubjectError

from ..site import site
from .pages import message, page, unavailable

router = APIRouter(prefix="/center", include_in_schema=False)
T = TypeVar("T")
MAX_BODY = 4000


class _Refused(Exception):
    def __init__(self, status: int, heading: str, text: str) -> None:
        super().__init__(heading)
        self.status, self.heading, self.text = status, heading, text


def _guarded(call: Callable[[], T]) -> T:
    try:
        return call()
    except ExpiredLink:
        raise _Refused(
            410,
            "This unsubscribe link has expired",
            "Unsubscribe links work for a year. Use the privacy center to change your choices.",
        ) from None
    except LinkError:
        raise _Refused(
            400,
            "This unsubscribe link does not work",
            "The link is damaged or incomplete. Copy the whole link from the email, or use the "
            "privacy center to change your choices.",
        ) from None
    except SubjectError:
        raise _Refused(
            404, "Nothing to unsubscribe", "There is nothing at this link any more."
        ) from None


def one_click_body(content_type: str, body: bytes) -> bool:
    """Whether a POST body says ``List-Unsubscribe=One-Click``, urlencoded or (as RFC 8058
    prefers) multipart/form-data."""
    if len(body) > MAX_BODY:
        return False
    if content_type.lower().startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
        parsed = BytesParser(policy=default).parsebytes(head + body)
        if not parsed.is_multipart():
            return False
        for part in parsed.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "List-Unsubscribe" and part.get_payload(decode=True) in (b"One-Click",):
                return True
        return False
    return ONE_CLICK in body.decode("utf-8", errors="replace").strip().split("&")


@router.get("/unsubscribe/{token}", name="center_unsubscribe")
async def confirm(request: Request, token: str) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)

    def load() -> str:
        with s.sessions() as session:
            _, purpose = read_unsubscribe(session, keyring, s.policy, token, s.clock())
            return s.policy.purposes[purpose].name

    try:
        name = await run_in_threadpool(_guarded, load)
    except _Refused as refused:
        return message(request, refused.status, refused.heading, refused.text, start_again=True)
    context = {"purpose_name": name, "one_click": ONE_CLICK}
    return page(request, "unsubscribe.html", context, forms=False)


@router.post("/unsubscribe/{token}")
async def one_click(request: Request, token: str) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    if not one_click_body(request.headers.get("content-type", ""), await request.body()):
        return message(
            request,
            400,
            "Use the unsubscribe button",
            "This address unsubscribes with the button on its page.",
        )

    def stop() -> Unsubscribed:
        with write_scope(s.sessions) as session:
            return unsubscribe(session, keyring, s.policy, token, s.clock())

    try:
        done = await run_in_threadpool(_guarded, stop)
    except _Refused as refused:
        return message(request, refused.status, refused.heading, refused.text, start_again=True)
    return message(
        request,
        200,
        "You are unsubscribed",
        f"{s.policy.organization_name} will no longer use your data to: {done.purpose_name}. "
        "Messages about services you use, such as invoices and replies to you, continue.",
    )
