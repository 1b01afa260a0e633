"""The privacy center's pages: what a person can do here, proving their email address, and
their own consent choices.

``/center`` explains; ``/center/manage`` asks for an email address and sends a code and a link
(troth.subjects.verification); ``/center/code`` checks a typed code and ``/center/verify/{token}``
an emailed link (a GET shows a button, the POST uses the link: mail scanners open links
too); either starts a session (security.py) that ``/center/choices`` shows and changes. The
answer to an address is the same page whether troth knows the address or not.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from troth.consent import ConsentInputError
from troth.consent.choices import SubjectChoices, set_choice, subject_choices
from troth.store import write_scope
from troth.subjects import IdentityError, Keyring
from troth.subjects.registry import UnknownSubject
from troth.subjects.verification import (
    LIFETIME,
    MAX_ATTEMPTS,
    Outcome,
    Refusal,
    Refused,
    TooManyStarts,
    VerificationStarted,
    Verified,
    check_code,
    check_link,
    peek_link,
    start_verification,
)

from ..site import public_base, render, site
from .security import (
    end_session,
    form_nonce,
    form_token,
    form_token_ok,
    keep_nonce,
    session_subject,
    start_session,
)

router = APIRouter(prefix="/center", include_in_schema=False)
MAX_FORM = 2000
PURPOSE = "center"

_REFUSALS = {
    Refusal.no_attempts_left: (
        400,
        "This code can no longer be used",
        f"A code allows {MAX_ATTEMPTS} tries. Ask for a new code and use that one.",
    ),
    Refusal.expired: (
        410,
        "This code or link has expired",
        f"Codes and links work for {int(LIFETIME.total_seconds() // 60)} minutes. "
        "Ask for a new one.",
    ),
    Refusal.used: (
        410,
        "This code or link was already used",
        "Each code and link works once. Ask for a new one if you need to sign in again.",
    ),
    Refusal.unknown: (
        400,
        "This code or link does not work",
        "It is damaged or incomplete. Copy the whole link from the email, or ask for a new code.",
    ),
}


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form's fields (first value of each); the forms here are small."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"))
    return {name: values[0] for name, values in fields.items() if values}


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
    *,
    forms: bool = True,
) -> Response:
    """Render a center page; one with ``forms`` gets a CSRF token for them (and the nonce cookie
    it is bound to). A page without (a message, the unsubscribe page) sets no cookie."""
    s = site(request)
    base = {"page": "center", "csrf": "", "policy": s.policy}
    nonce, new = form_nonce(request)
    if forms and s.keyring is not None:
        base["csrf"] = form_token(s.keyring, nonce, s.clock())
    response = render(request, f"center/{template}", base | context, status_code=status_code)
    if forms and new:
        keep_nonce(response, request, nonce, s.public_url)
    return response


def message(request: Request, status: int, heading: str, text: str, **extra: Any) -> Response:
    context = {"heading": heading, "message": text} | extra
    return page(request, "message.html", context, status, forms=False)


def forbidden(request: Request) -> Response:
    return message(
        request,
        403,
        "This form has expired",
        "The page was open too long, or cookies are blocked for this site. Go back, reload the "
        "page and try again.",
    )


def unavailable(request: Request) -> Response:
    return message(request, 503, "Not available", "The privacy center cannot sign anyone in now.")


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "").rstrip("/")
    return root


def _redirect(request: Request, path: str) -> RedirectResponse:
    """A 303 to ``/center`` followed by ``path``."""
    return RedirectResponse(f"{_root(request)}/center{path}", status_code=303)


def _contacts(request: Request) -> list[tuple[str, Any]]:
    organization = site(request).policy.declaration.organization
    found = [
        ("Privacy contact", organization.privacy_officer),
        ("Grievance officer", organization.grievance_officer),
    ]
    listed = [(label, contact) for label, contact in found if contact is not None]
    return listed or [("Contact", organization.contact)]


@router.get("", name="center_home")
def home(request: Request) -> Response:
    s = site(request)
    signed_in = s.keyring is not None and session_subject(request, s.keyring, s.clock()) is not None
    return page(request, "home.html", {"contacts": _contacts(request), "signed_in": signed_in})


@router.get("/manage", name="center_manage")
def manage(request: Request) -> Response:
    s = site(request)
    # ``?again=1`` asks for a fresh code while signed in: a download wants a recent proof.
    again = request.query_params.get("again") == "1"
    if not again and s.keyring is not None and session_subject(request, s.keyring, s.clock()):
        return _redirect(request, "/choices")
    return page(request, "manage.html", {})


@router.post("/manage")
async def start(request: Request) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    fields = await read_form(request)
    if not form_token_ok(request, keyring, fields.get("csrf"), s.clock()):
        return forbidden(request)
    email = fields.get("email", "")
    client = request.client.host if request.client else "unknown"
    link_prefix = f"{public_base(request)}/center/verify/"

    def begin() -> VerificationStarted:
        with write_scope(s.sessions) as session:
            return start_verification(
                session,
                keyring,
                email,
                PURPOSE,
                client,
                s.clock(),
                link_prefix=link_prefix,
                organization=s.policy.organization_name,
                policy_version=s.policy.version,
            )

    try:
        started = await run_in_threadpool(begin)
    except IdentityError:
        error = "Enter an email address, like name@example.com."
        return page(request, "manage.html", {"error": error}, status_code=422)
    except TooManyStarts as exc:
        minutes = max(1, math.ceil(exc.retry_after.total_seconds() / 60))
        asked = "for this address" if exc.scope == "address" else "from this network"
        response = message(
            request,
            429,
            "Too many codes asked for",
            f"Too many codes were asked {asked} in the last hour. Try again in {minutes} minutes.",
        )
        response.headers["Retry-After"] = str(math.ceil(exc.retry_after.total_seconds()))
        return response
    return page(request, "code.html", {"verification": started.verification_id})


@router.post("/code")
async def enter_code(request: Request) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    fields = await read_form(request)
    if not form_token_ok(request, keyring, fields.get("csrf"), s.clock()):
        return forbidden(request)
    verification_id = fields.get("verification", "")[:64]
    code = fields.get("code", "")[:32]

    def check() -> Outcome:
        with write_scope(s.sessions) as session:
            return check_code(
                session, keyring, verification_id, code, s.clock(), policy_version=s.policy.version
            )

    outcome = await run_in_threadpool(check)
    if isinstance(outcome, Refused) and outcome.reason is Refusal.wrong_code:
        if outcome.attempts_left == 0:
            return _refused(request, Refused(Refusal.no_attempts_left))
        tries = "1 try" if outcome.attempts_left == 1 else f"{outcome.attempts_left} tries"
        error = f"That code is not right. You have {tries} left."
        context = {"verification": verification_id, "error": error}
        return page(request, "code.html", context, status_code=400)
    return _signed_in(request, keyring, outcome, "email_code")


@router.get("/verify/{token}", name="center_verify")
async def verify_page(request: Request, token: str) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)

    def peek() -> Refused | None:
        with s.sessions() as session:
            return peek_link(session, keyring, token, s.clock())

    refusal = await run_in_threadpool(peek)
    if refusal is not None:
        return _refused(request, refusal)
    return page(request, "verify.html", {})


@router.post("/verify/{token}")
async def verify(request: Request, token: str) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    fields = await read_form(request)
    if not form_token_ok(request, keyring, fields.get("csrf"), s.clock()):
        return forbidden(request)

    def check() -> Outcome:
        with write_scope(s.sessions) as session:
            return check_link(session, keyring, token, s.clock(), policy_version=s.policy.version)

    return _signed_in(request, keyring, await run_in_threadpool(check), "email_link")


def _refused(request: Request, refusal: Refused) -> Response:
    status, heading, text = _REFUSALS[refusal.reason]
    return message(request, status, heading, text, start_again=True)


def _signed_in(request: Request, keyring: Keyring, outcome: Outcome, method: str) -> Response:
    if not isinstance(outcome, Verified):
        return _refused(request, outcome)
    s = site(request)
    response = _redirect(request, "/choices")
    start_session(response, request, keyring, outcome.subject_id, s.clock(), s.public_url, method)
    return response


@router.get("/choices", name="center_choices")
async def choices(request: Request) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    subject_id = session_subject(request, keyring, s.clock())
    if subject_id is None:
        return _redirect(request, "/manage")

    def load() -> SubjectChoices:
        with s.sessions() as session:
            return subject_choices(session, s.policy, subject_id, s.clock())

    try:
        shown = await run_in_threadpool(load)
    except UnknownSubject:
        response = _redirect(request, "/manage")
        end_session(response, request, s.public_url)
        return response
    saved = request.query_params.get("saved")
    done = request.query_params.get("done")
    names = {p.key: p.name for p in shown.purposes}
    status = None
    if saved in names and done in ("given", "withdrawn"):
        verb = "You gave your consent to" if done == "given" else "You withdrew your consent to"
        status = f"Saved. {verb}: {names[saved]}."
    return page(request, "choices.html", {"choices": shown, "status": status})


@router.post("/choices")
async def change_choice(request: Request) -> Response:
    s = site(request)
    keyring = s.keyring
    if keyring is None:
        return unavailable(request)
    fields = await read_form(request)
    if not form_token_ok(request, keyring, fields.get("csrf"), s.clock()):
        return forbidden(request)
    subject_id = session_subject(request, keyring, s.clock())
    if subject_id is None:
        return _redirect(request, "/manage")
    purpose, action = fields.get("purpose", ""), fields.get("action")
    if action not in ("give", "withdraw"):
        return message(request, 400, "Choose give or withdraw", "Use one of the buttons.")

    def change() -> None:
        with write_scope(s.sessions) as session:
            set_choice(session, s.policy, subject_id, purpose, action == "give", s.clock())

    try:
        await run_in_threadpool(change)
    except ConsentInputError:
        return message(request, 400, "Not a choice you can make here", "Use the buttons.")
    except UnknownSubject:
        return _redirect(request, "/manage")
    done = "given" if action == "give" else "withdrawn"
    return _redirect(request, "/choices?" + urlencode({"saved": purpose, "done": done}))


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    s = site(request)
    if s.keyring is None:
        return unavailable(request)
    fields = await read_form(request)
    if not form_token_ok(request, s.keyring, fields.get("csrf"), s.clock()):
        return forbidden(request)
    response = _redirect(request, "")
    end_session(response, request, s.public_url)
    return response
