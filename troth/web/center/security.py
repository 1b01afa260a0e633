"""The privacy center's session and CSRF tokens, both signed, neither stored on the server.

- Session: after a verified code or link, the cookie ``troth_center_session`` holds a signed token
  (troth.notify.links, purpose ``center.session``) naming the subject's troth id, when and how
  (code or link) the address was proved, valid thirty minutes. HttpOnly, SameSite=Lax, path
  ``/center``, Secure when the site is served over HTTPS. Signed rather than a server-side row:
  nothing to clean up and no table to read on every page; the price is that signing out deletes the
  cookie but cannot revoke a copy of it, which the short lifetime bounds. Every page takes the
  subject from this cookie alone, never from the request, so a session can only ever read or change
  its own subject.
- CSRF: the cookie ``troth_center_form`` holds a random nonce (HttpOnly, SameSite=Lax); every
  POST form carries a token signed for that nonce (purpose ``center.form``). A POST without the
  cookie, without the token, or with a token for another nonce is refused with 403. The
  unsubscribe route is the one exception: a mail program's one-click POST has no cookie, and
  the link's own signed token is the proof.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from starlette.responses import Response

from troth.notify import LinkError, sign_link, verify_link
from troth.subjects import Keyring

SESSION_COOKIE = "troth_center_session"
FORM_COOKIE = "troth_center_form"
SESSION_LIFETIME = timedelta(minutes=30)
FORM_TOKEN_LIFETIME = timedelta(hours=12)
COOKIE_PATH = "/center"
_SESSION_PURPOSE = "center.session"
_FORM_PURPOSE = "center.form"


def _secure(request: Request, public_url: str | None) -> bool:
    return (public_url or str(request.base_url)).startswith("https://")


def _path(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/") + COOKIE_PATH


@dataclass(frozen=True)
class CenterSession:
    subject_id: str
    verified_at: datetime
    method: str  # "email_code" or "email_link": how the address was proved


def center_session(request: Request, keyring: Keyring, now: datetime) -> CenterSession | None:
    """The valid session cookie's subject, and when and how it was verified; or None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        payload = verify_link(keyring, token, _SESSION_PURPOSE, now)
    except LinkError:
        return None
    verified_at = datetime.fromtimestamp(int(payload.get("v", 0)), UTC)
    return CenterSession(str(payload["s"]), verified_at, str(payload.get("m", "email_code")))


def session_subject(request: Request, keyring: Keyring, now: datetime) -> str | None:
    """The subject id of a valid session cookie, or None."""
    found = center_session(request, keyring, now)
    return found.subject_id if found else None


def start_session(
    response: Response,
    request: Request,
    keyring: Keyring,
    subject_id: str,
    now: datetime,
    public_url: str | None,
    method: str = "email_code",
) -> None:
    payload: dict[str, str | int] = {"s": subject_id, "v": int(now.timestamp()), "m": method}
    token = sign_link(keyring, _SESSION_PURPOSE, payload, now + SESSION_LIFETIME)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=_path(request),
        secure=_secure(request, public_url),
        httponly=True,
        samesite="lax",
    )


def end_session(response: Response, request: Request, public_url: str | None) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=_path(request),
        secure=_secure(request, public_url),
        httponly=True,
        samesite="lax",
    )


def form_nonce(request: Request) -> tuple[str, bool]:
    """The browser's CSRF nonce, and whether it is new (then :func:`keep_nonce` must set it)."""
    nonce = request.cookies.get(FORM_COOKIE, "")
    if 20 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum():
        return nonce, False
    return secrets.token_urlsafe(24), True


def keep_nonce(response: Response, request: Request, nonce: str, public_url: str | None) -> None:
    response.set_cookie(
        FORM_COOKIE,
        nonce,
        path=_path(request),
        secure=_secure(request, public_url),
        httponly=True,
        samesite="lax",
    )


def form_token(keyring: Keyring, nonce: str, now: datetime) -> str:
    return sign_link(keyring, _FORM_PURPOSE, {"n": nonce}, now + FORM_TOKEN_LIFETIME)


def form_token_ok(request: Request, keyring: Keyring, token: str | None, now: datetime) -> bool:
    """Whether a POST's token was signed for this browser's nonce."""
    nonce = request.cookies.get(FORM_COOKIE)
    if not nonce or not token:
        return False
    try:
        payload = verify_link(keyring, token, _FORM_PURPOSE, now)
    except LinkError:
        return False
    return hmac.compare_digest(str(payload["n"]).encode(), nonce.encode())
