"""The pages a person reaches from a publication email: review (approve or reject), withdraw.

Each page is opened by the signed token in its URL, and its form posts the token back to the
same URL: the token is the person's proof, so no login is needed. A damaged or misused link is
answered 400, an expired one 410, a draft changed since the link was sent 410, an unknown
publication 404, the other decision on a decided draft 409; all as pages a person can read.
The access log records the route's template, never the token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from troth.notify import ExpiredLink, LinkError
from troth.publications import (
    AlreadyDecided,
    PublicationKind,
    PublicationText,
    StaleReview,
    UnknownPublication,
    approve,
    reject,
    reviewed_item,
    withdraw_by_link,
    withdrawable_item,
)
from troth.store import write_scope
from troth.subjects import Keyring, KeyringError
from troth.subjects.registry import SubjectError

from .site import public_base, render, site

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
MAX_FORM = 1000


class PageError(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def _keyring(request: Request) -> Keyring:
    keyring = site(request).keyring
    if keyring is None:
        raise PageError(503, "Not available", "This site cannot open review links right now.")
    return keyring


def _guarded(call: Callable[[], T]) -> T:
    """Run ``call``; the errors of links and publications become PageError."""
    try:
        return call()
    except ExpiredLink:
        raise PageError(
            410,
            "This link has expired",
            "Links in our emails work for a limited time. Write to us and we will send a new one.",
        ) from None
    except LinkError:
        raise PageError(
            400,
            "This link does not work",
            "The link is damaged or incomplete. Copy the whole link from the email, or write "
            "to us for a new one.",
        ) from None
    except StaleReview:
        raise PageError(
            410,
            "This draft has changed",
            "The text was changed after this link was sent, so this link no longer reviews it. "
            "The newer email has the link to the current draft.",
        ) from None
    except (UnknownPublication, SubjectError, KeyringError):
        raise PageError(
            404, "Nothing to review", "There is nothing at this link any more."
        ) from None


def _page(request: Request, error: PageError) -> Response:
    return render(
        request,
        "publication_message.html",
        {"heading": error.title, "message": error.message},
        status_code=error.status,
    )


def _context(item_kind: str, text: PublicationText) -> dict[str, Any]:
    return {"kind_label": PublicationKind(item_kind).label, "title": text.title, "text": text.text}


@router.get("/publications/review/{token}", name="publication_review")
async def review_page(request: Request, token: str) -> Response:
    s = site(request)

    def load() -> dict[str, Any]:
        keyring = _keyring(request)
        with s.sessions() as session:
            item, text = reviewed_item(session, keyring, token, s.clock())
            return _context(item.kind, text) | {"status": item.status}

    try:
        context = await run_in_threadpool(_guarded, load)
    except PageError as error:
        return _page(request, error)
    return render(request, "publication_review.html", context)


@router.post("/publications/review/{token}")
async def review_decision(request: Request, token: str) -> Response:
    s = site(request)
    decision = (await _form(request)).get("decision")
    if decision not in ("approve", "reject"):
        return _page(
            request, PageError(400, "Choose approve or reject", "Use one of the two buttons.")
        )
    base_url = public_base(request)

    def decide() -> tuple[str, str]:
        keyring = _keyring(request)
        with write_scope(s.sessions) as session:
            if decision == "approve":
                result = approve(
                    session,
                    keyring,
                    token,
                    base_url=base_url,
                    organization=s.policy.organization_name,
                    now=s.clock(),
                    policy_version=s.policy.version,
                )
            else:
                result = reject(
                    session, keyring, token, now=s.clock(), policy_version=s.policy.version
                )
            return result.item.status, result.item.kind

    try:
        status, kind = await run_in_threadpool(_guarded_decision, decide)
    except PageError as error:
        return _page(request, error)
    label = PublicationKind(kind).label
    if status == "approved":
        heading = "Thank you: approved"
        message = (
            f"{s.policy.organization_name} may now publish your {label}. We have emailed you a "
            "link to withdraw it at any time."
        )
    else:
        heading = "Thank you: it will not be published"
        message = f"We have recorded that you do not want this {label} published."
    return render(request, "publication_message.html", {"heading": heading, "message": message})


@router.get("/publications/withdraw/{token}", name="publication_withdraw")
async def withdraw_page(request: Request, token: str) -> Response:
    s = site(request)

    def load() -> dict[str, Any]:
        keyring = _keyring(request)
        with s.sessions() as session:
            item, text = withdrawable_item(session, keyring, token, s.clock())
            return _context(item.kind, text) | {"status": item.status}

    try:
        context = await run_in_threadpool(_guarded, load)
    except PageError as error:
        return _page(request, error)
    return render(request, "publication_withdraw.html", context)


@router.post("/publications/withdraw/{token}")
async def withdraw_decision(request: Request, token: str) -> Response:
    s = site(request)

    def take_down() -> str:
        keyring = _keyring(request)
        with write_scope(s.sessions) as session:
            result = withdraw_by_link(
                session, keyring, token, now=s.clock(), policy_version=s.policy.version
            )
            return result.item.kind

    try:
        kind = await run_in_threadpool(_guarded, take_down)
    except PageError as error:
        return _page(request, error)
    label = PublicationKind(kind).label
    return render(
        request,
        "publication_message.html",
        {
            "heading": "Withdrawn",
            "message": f"Your {label} is no longer published by {s.policy.organization_name}.",
        },
    )


def _guarded_decision(call: Callable[[], T]) -> T:
    try:
        return _guarded(call)
    except AlreadyDecided as exc:
        if exc.status == "approved":
            message = (
                "You already approved this. To take it down, use the withdraw link in the "
                "confirmation email, or write to us."
            )
        elif exc.status == "withdrawn":
            message = "This was withdrawn at your request, and will not be published."
        else:
            message = "You already rejected this, so it will not be published."
        raise PageError(409, "Already decided", message) from None


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form's fields (first value of each); the body is small by design."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"))
    return {name: values[0] for name, values in fields.items() if values}
