"""The console's sign-in: address and password, then a TOTP code (or enrolment), and sign-out."""

from __future__ import annotations

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from troth.staff import (
    SignedIn,
    email_of,
    needs_enrolment,
    provisioning_uri,
    sign_in_with_code,
    sign_in_with_password,
    sign_out,
    totp_secret_of,
)
from troth.staff.models import StaffAccount, StaffSession
from troth.staff.sessions import token_hash
from troth.staff.totp import secret_base32
from troth.store import write_scope

from ..site import site
from .auth import (
    PREFIX,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_LIMIT,
    SignInRequired,
    check_csrf,
    clear_cookie,
    form_fields,
    keyring_of,
    new_form_nonce,
    now,
    set_cookie,
    staff_session,
    token_from,
    url,
)
from .pages import render_console

router = APIRouter(prefix=PREFIX)

REFUSED = "Wrong email, password or code."
SIGN_IN_FORM_SECONDS = 3600


def _sign_in_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    nonce = new_form_nonce()
    response = render_console(
        request, "console/sign_in.html", {"csrf": nonce, "error": error}, status_code=status
    )
    set_cookie(request, response, SIGN_IN_COOKIE, nonce, max_age=SIGN_IN_FORM_SECONDS)
    return response


def _redirect(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


@router.get("/sign-in", name="console_sign_in")
def sign_in_page(request: Request) -> Response:
    keyring_of(request)
    who = staff_session(request)
    if who is not None:
        return _redirect(url(request, "" if who.verified else "/sign-in/code"))
    return _sign_in_page(request)


@router.post("/sign-in", dependencies=[Depends(SIGN_IN_LIMIT)])
def sign_in(request: Request, form: dict[str, str] = Depends(form_fields)) -> Response:
    keyring = keyring_of(request)
    check_csrf(form, token_from(request, SIGN_IN_COOKIE))
    with write_scope(site(request).sessions) as db:
        opened = sign_in_with_password(
            db,
            keyring,
            email=form.get("email", ""),
            password=form.get("password", ""),
            now=now(request),
        )
    if opened is None:
        return _sign_in_page(request, error=REFUSED, status=400)
    response = _redirect(url(request, "/sign-in/code"))
    set_cookie(request, response, SESSION_COOKIE, opened.token)
    clear_cookie(request, response, SIGN_IN_COOKIE)
    return response


def _half_session(request: Request) -> str:
    """The token of the request's half session; a full one goes home, none to sign-in."""
    who = staff_session(request)
    token = token_from(request)
    if who is None or token is None:
        raise SignInRequired(url(request, "/sign-in"))
    if who.verified:
        raise SignInRequired(url(request, ""))
    return token


def _code_page(
    request: Request, token: str, *, error: str | None = None, status: int = 200
) -> Response:
    keyring = keyring_of(request)
    with site(request).sessions() as db:
        row = db.get(StaffSession, token_hash(token))
        assert row is not None  # _half_session found it a moment ago
        account = db.get(StaffAccount, row.account_id)
        assert account is not None
        context: dict[str, object] = {"csrf": row.csrf_token, "error": error, "enrol": False}
        if needs_enrolment(db, token):
            secret = totp_secret_of(keyring, account)
            uri = provisioning_uri(secret, account_label=email_of(keyring, account))
            qr = segno.make(uri, error="m")
            context |= {
                "enrol": True,
                "qr_svg": qr.svg_inline(scale=5, light="#fff", title="QR code to scan"),
                "secret": secret_base32(secret),
            }
    return render_console(request, "console/code.html", context, status_code=status)


@router.get("/sign-in/code", name="console_code")
def code_page(request: Request) -> Response:
    keyring_of(request)
    return _code_page(request, _half_session(request))


@router.post("/sign-in/code", dependencies=[Depends(SIGN_IN_LIMIT)])
def give_code(
    request: Request,
    token: str = Depends(_half_session),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    keyring = keyring_of(request)
    with site(request).sessions() as db:
        row = db.get(StaffSession, token_hash(token))
        check_csrf(form, row.csrf_token if row else None)
    with write_scope(site(request).sessions) as db:
        opened = sign_in_with_code(
            db, keyring, token=token, code=form.get("code", ""), now=now(request)
        )
    if opened is None:
        if staff_session(request) is None:  # the account locked: start again
            response = _sign_in_page(request, error=REFUSED, status=400)
            clear_cookie(request, response)
            return response
        return _code_page(request, token, error=REFUSED, status=400)
    response = _redirect(url(request, ""))
    set_cookie(request, response, SESSION_COOKIE, opened.token)
    return response


def _any_session(request: Request) -> SignedIn:
    """The request's session, half or full: either may be ended."""
    keyring_of(request)
    who = staff_session(request)
    if who is None:
        raise SignInRequired(url(request, "/sign-in"))
    return who


@router.post("/sign-out", name="console_sign_out")
def sign_out_route(
    request: Request,
    who: SignedIn = Depends(_any_session),
    form: dict[str, str] = Depends(form_fields),
) -> Response:
    """End the session: a signed-in person's, or a half one whose owner starts again."""
    token = token_from(request)
    check_csrf(form, who.csrf_token)
    assert token is not None  # _any_session found its session
    with write_scope(site(request).sessions) as db:
        sign_out(db, token, now=now(request))
    response = _redirect(url(request, "/sign-in"))
    clear_cookie(request, response)
    return response
