"""Who a console request comes from: the session cookie, role gates, and CSRF checks on forms.

The cookie holds ``TOKEN.SIGNATURE``: a random token and its HMAC under a key derived from the
master key, so a forged or altered cookie is refused before the database is asked. It is
HttpOnly, SameSite=Lax, scoped to ``/console`` and Secure unless the app was created with
``secure_cookies=False`` (plain-http loopback only: `make run`, tests).

Every state-changing form carries the session's CSRF token in a hidden field; a missing or wrong
one is answered 403. The sign-in form, which comes before any session, carries a random value
that must equal the one in a short-lived cookie set with the form.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from starlette.responses import Response

from troth.staff import Role, SignedIn, current_session
from troth.store import write_scope
from troth.subjects import Keyring

from ..ratelimit import RateLimit
from ..site import Site, site

PREFIX = "/console"
SESSION_COOKIE = "troth_console"
SIGN_IN_COOKIE = "troth_console_form"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 20

# Per client address: ten attempts at once, then one every six seconds. Lockout per account is
# the stronger limit; this one slows a client spraying guesses over many addresses.
SIGN_IN_LIMIT = RateLimit(rate=1 / 6, burst=10)


class ConsoleRefusal(Exception):
    """A console request answered with a page saying why (403, 503), not the page asked for."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInRequired(Exception):
    """No full session: the browser is sent to ``to`` (the sign-in or the code step)."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


def root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def url(request: Request, path: str) -> str:
    return f"{root(request)}{PREFIX}{path}"


def now(request: Request) -> datetime:
    return site(request).clock()


def keyring_of(request: Request) -> Keyring:
    keyring = site(request).keyring
    if keyring is None:
        raise ConsoleRefusal(
            503,
            "Console unavailable",
            "The console needs the master key: start troth serve with --key-file or "
            "TROTH_MASTER_KEY.",
        )
    return keyring


def signed_cookie(keyring: Keyring, token: str) -> str:
    return f"{token}.{keyring.sign_staff_cookie(token)}"


def token_from(request: Request, name: str = SESSION_COOKIE) -> str | None:
    """The token of a cookie whose signature is right, else None."""
    raw = request.cookies.get(name)
    if not raw or "." not in raw:
        return None
    token, _, signature = raw.rpartition(".")
    keyring = site(request).keyring
    if keyring is None or not (token.isascii() and signature.isascii()):
        return None
    if not keyring.staff_cookie_signed(token, signature):
        return None
    return token


def set_cookie(
    request: Request, response: Response, name: str, token: str, max_age: int | None = None
) -> None:
    s: Site = site(request)
    response.set_cookie(
        name,
        signed_cookie(keyring_of(request), token),
        max_age=max_age,
        path=f"{root(request)}{PREFIX}",
        httponly=True,
        secure=s.secure_cookies,
        samesite="lax",
    )


def clear_cookie(request: Request, response: Response, name: str = SESSION_COOKIE) -> None:
    response.delete_cookie(
        name,
        path=f"{root(request)}{PREFIX}",
        httponly=True,
        secure=site(request).secure_cookies,
        samesite="lax",
    )


def staff_session(request: Request) -> SignedIn | None:
    """The live session of the request's cookie (half or full), or None."""
    token = token_from(request)
    if token is None:
        return None
    with write_scope(site(request).sessions) as db:
        return current_session(db, token, now=now(request))


def require_staff(*roles: Role) -> Callable[[Request], SignedIn]:
    """A dependency: the full session of the request, whose role is one of ``roles`` (any role
    when none are named). No session goes to sign-in, a half one to the code step, a role not
    named gets 403."""
    admitted = frozenset(roles)

    def dependency(request: Request) -> SignedIn:
        keyring_of(request)
        who = staff_session(request)
        if who is None:
            raise SignInRequired(url(request, "/sign-in"))
        if not who.verified:
            raise SignInRequired(url(request, "/sign-in/code"))
        if admitted and who.role not in admitted:
            raise ConsoleRefusal(403, "Not open to your role", "Your role does not open this page.")
        request.state.staff = who
        return who

    dependency.roles = admitted  # type: ignore[attr-defined]  # read by the route-gating tests
    return dependency


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of an ``application/x-www-form-urlencoded`` body, each's first value."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, "Console forms are sent as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "The form is too large")
    try:
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "The form could not be read") from None
    return {name: values[0] for name, values in parsed.items()}


def check_csrf(form: dict[str, str], expected: str | None) -> None:
    """403 unless the form's ``csrf`` field equals ``expected`` (compared in constant time)."""
    given = form.get("csrf", "").encode("utf-8")
    if not expected or not given or not hmac.compare_digest(given, expected.encode("utf-8")):
        raise ConsoleRefusal(
            403,
            "Form refused",
            "This form was missing its security token, or the token did not match. Go back, "
            "reload the page and send the form again.",
        )


def new_form_nonce() -> str:
    return secrets.token_urlsafe(24)
