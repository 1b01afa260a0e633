"""Time-based one-time passwords (RFC 6238): the second factor every staff account signs in with.

HMAC-SHA1, 30-second steps, 6 digits, as every authenticator app expects. A code is accepted for
the step before and after the current one, to allow for clocks that disagree a little, and only
for a step later than the last one accepted on the account, so that a code (or an older one) can
never be used twice.

Written on the standard library's ``hmac``: the algorithm is a dozen lines, and owning them keeps
the acceptance window and the replay rule where they can be read and tested together.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps either side of the current one
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends for HMAC-SHA1
ISSUER = "troth console"  # how authenticator apps name the entry

_CODE = re.compile(rf"[0-9]{{{DIGITS}}}")


def new_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


def secret_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it typed in: base32 without padding."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def step_at(now: datetime) -> int:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("TOTP needs a timezone-aware 'now'")
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: bytes, step: int, digits: int = DIGITS) -> str:
    """The code for time step ``step`` (RFC 4226's HOTP with the step as counter)."""
    digest = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def matching_step(
    secret: bytes, code: str, now: datetime, *, last_used_step: int | None
) -> int | None:
    """The time step ``code`` is valid for at ``now``, or None if it is wrong, stale or used.

    Spaces are ignored (apps show codes as "123 456"). Every step in the window is compared, in
    constant time, whether or not an earlier one matched.
    """
    cleaned = code.replace(" ", "")
    if not _CODE.fullmatch(cleaned):
        return None
    current = step_at(now)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), cleaned) and found is None:
            found = step
    if found is None or (last_used_step is not None and found <= last_used_step):
        return None
    return found


def provisioning_uri(secret: bytes, *, account_label: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    label = quote(f"{issuer}:{account_label}", safe="")
    query = urlencode(
        {
            "secret": secret_base32(secret),
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_SECONDS,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"
