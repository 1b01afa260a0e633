"""The page a parent reaches from a consent request email: what was collected, and two buttons.

The page is opened by the signed token in its URL, and its form posts the token back to the same
URL: the token is the parent's proof, so no login is needed. The page shows the categories and
the purpose held, never the values. A damaged link is answered 400, an expired one 410, one for
a request answered already (or expired by the sweep) 409, an unknown one 404; all as pages a
person can read. The access log records the route's template, never the token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from troth.children import (
    AlreadyAnswered,
    HoldNotFound,
    give_consent,
    held_for_link,
    refuse_consent,
)
from troth.notify import ExpiredLink, LinkError
from troth.store import write_scope
from troth.subjects import Keyring, KeyringError
from troth.subjects.registry import SubjectError
from troth.vault.holds import category_names

from .publications import PageError, _form
from .site import render, site

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

_ANSWERED = {
    "released": "You already gave your consent. The information is in use for what was asked.",
    "refused": "You already refused. The information was deleted.",
    "expired": "No answer came in time, so the information was deleted.",
    "isolated": "This information is kept apart and unused.",
}


def _keyring(request: Request) -> Keyring:
    keyring = site(request).keyring
    if keyring is None:
        raise PageError(503, "Not available", "This site cannot open consent links right now.")
    return keyring


def _guarded(call: Callable[[], T]) -> T:
    try:
        return call()
    except ExpiredLink:
        raise PageError(
            410,
            "This link has expired",
            "The time to answer has passed, and the information it was about has been or will "
            "be deleted. Nothing more is needed from you.",
        ) from None
    except LinkError:
        raise PageError(
            400,
            "This link does not work",
            "The link is damaged or incomplete. Copy the whole link from the email.",
        ) from None
    except AlreadyAnswered as exc:
        raise PageError(409, "Already answered", _ANSWERED.get(exc.status, "")) from None
    except (HoldNotFound, SubjectError, KeyringError):
        raise PageError(
            404, "Nothing to answer", "There is nothing at this link any more."
        ) from None


def _page(request: Request, error: PageError) -> Response:
    return render(
        request,
        "publication_message.html",
        {"heading": error.title, "message": error.message},
        status_code=error.status,
    )


@router.get("/children/consent/{token}", name="parental_consent")
async def consent_page(request: Request, token: str) -> Response:
    s = site(request)

    def load() -> dict[str, Any]:
        keyring = _keyring(request)
        with s.sessions() as session:
            hold = held_for_link(session, keyring, token, s.clock())
            if hold.status != "held":
                raise AlreadyAnswered(hold.status)
            return {
                "categories": category_names(s.policy, hold.categories),
                "purposes": [
                    s.policy.purposes[p].name if p in s.policy.purposes else p
                    for p in hold.purposes
                ],
                "window_ends": hold.window_ends,
            }

    try:
        context = await run_in_threadpool(_guarded, load)
    except PageError as error:
        return _page(request, error)
    children = s.policy.declaration.children
    context["age_threshold"] = children.age_threshold if children else None
    return render(request, "child_consent.html", context)


@router.post("/children/consent/{token}")
async def consent_answer(request: Request, token: str) -> Response:
    s = site(request)
    answer = (await _form(request)).get("answer")
    if answer not in ("give", "refuse"):
        return _page(
            request, PageError(400, "Choose give or refuse", "Use one of the two buttons.")
        )

    def decide() -> int:
        keyring = _keyring(request)
        with write_scope(s.sessions) as session:
            act = give_consent if answer == "give" else refuse_consent
            return act(session, s.policy, keyring, token, now=s.clock()).items

    try:
        await run_in_threadpool(_guarded, decide)
    except PageError as error:
        return _page(request, error)
    organization = s.policy.organization_name
    if answer == "give":
        heading = "Thank you: consent given"
        message = (
            f"{organization} may now use the information for what was asked. You can withdraw "
            f"your consent at any time by writing to {organization}."
        )
    else:
        heading = "Thank you: consent refused"
        message = f"{organization} has deleted the information and will not use it."
    return render(request, "publication_message.html", {"heading": heading, "message": message})
