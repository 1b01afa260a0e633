"""Signed links: a URL-safe token that carries ids, a purpose and an expiry, HMAC-signed.

A link in an email ("review your testimonial", "withdraw it") proves that whoever follows it was
given it by troth. The token is ``base64url(JSON) "." base64url(HMAC-SHA256)``, signed with a
subkey of the master key kept for links alone. The JSON holds the purpose label, the expiry
(Unix seconds) and the payload: ids and numbers only, never personal data, since the token
travels in URLs, browser histories and server logs, readable by anyone who sees it.

Verification refuses, with distinct errors, a token that was altered or not made by troth
(:class:`TamperedLink`), one made for another purpose (:class:`WrongPurpose`: a review link is
not a withdraw link) and one past its expiry (:class:`ExpiredLink`). A token is not single use
by itself: the action it leads to must be idempotent, or the caller records its use. During a
master key rotation links signed under a previous key still verify while that key is loaded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from troth.subjects import Keyring

_PURPOSE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_KEY = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
MAX_TOKEN = 2000
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

Payload = Mapping[str, str | int]


class LinkError(Exception):
    """A link that cannot be honoured; the message says why, for the person who followed it."""


class TamperedLink(LinkError):
    """The token was altered, truncated or not signed by this installation's keys."""


class ExpiredLink(LinkError):
    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"this link expired at {expired_at.isoformat()}")
        self.expired_at = expired_at


class WrongPurpose(LinkError):
    def __init__(self, expected: str, found: str) -> None:
        super().__init__(f"this link is for {found!r}, not {expected!r}")
        self.expected = expected
        self.found = found


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """The bytes of unpadded URL-safe base64, refusing any other spelling of them.

    The last character of a group carries unused low bits that decoders ignore, so several
    spellings decode alike; only the one :func:`_b64` writes is accepted, so that no changed
    character of a token ever passes."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical encoding")
    return data


def _signature(key: bytes, body: str) -> bytes:
    return hmac.new(key, b"troth.link\x00" + body.encode("ascii"), hashlib.sha256).digest()


def sign_link(keyring: Keyring, purpose: str, payload: Payload, expires_at: datetime) -> str:
    """A token for ``purpose`` carrying ``payload`` (ids and numbers) until ``expires_at``."""
    if not _PURPOSE.fullmatch(purpose):
        raise ValueError(f"link purpose {purpose!r} is not a dotted lower-case label")
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValueError("sign_link needs a timezone-aware expires_at")
    for name, value in payload.items():
        if not _KEY.fullmatch(name):
            raise ValueError(f"link payload key {name!r} is not a lower-case name")
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"link payload {name}: only ids (text) and whole numbers")
        if isinstance(value, str) and _EMAIL.search(value):
            # A cheap guard: links end up in logs and histories, personal data must not.
            raise ValueError(f"link payload {name}: looks like an email address; use an id")
    claims = {"p": purpose, "e": int(expires_at.timestamp()), "d": dict(payload)}
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_signature(keyring.current.link_key(), body))}"


def verify_link(keyring: Keyring, token: str, purpose: str, now: datetime) -> dict[str, Any]:
    """The payload of a token made for ``purpose`` that has not expired at ``now``.

    Raises TamperedLink, WrongPurpose or ExpiredLink, checked in that order: nothing in a token
    is believed before its signature is.
    """
    if len(token) > MAX_TOKEN or not _TOKEN.fullmatch(token):
        raise TamperedLink("this link is damaged or incomplete")
    body, _, signature = token.partition(".")
    try:
        presented = _unb64(signature)
    except (binascii.Error, ValueError):
        raise TamperedLink("this link is damaged or incomplete") from None
    if not any(
        hmac.compare_digest(presented, _signature(key, body)) for key in keyring.link_keys()
    ):
        raise TamperedLink("this link is damaged, or was not made by this site")
    claims = json.loads(_unb64(body))  # signed by troth, so well-formed
    found, expires, payload = claims["p"], claims["e"], claims["d"]
    if found != purpose:
        raise WrongPurpose(purpose, found)
    expired_at = datetime.fromtimestamp(expires, UTC)
    if now >= expired_at:
        raise ExpiredLink(expired_at)
    result: dict[str, Any] = payload
    return result
