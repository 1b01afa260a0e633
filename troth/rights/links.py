"""The signed link to a request's status page in the privacy center (P10–P15).

The link names the request id alone, signed for the purpose ``rights.status`` (troth.notify.links):
whoever holds the email can see the request's state, deadlines and result, never its data. The
export itself needs the person to prove their address again (see docs/center.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from troth.notify import sign_link, verify_link
from troth.subjects import Keyring

STATUS_PURPOSE = "rights.status"
# How long an emailed status link works.
STATUS_LINK_TTL = timedelta(days=90)


def status_path(request_id: str) -> str:
    """Where the privacy center shows a request's status."""
    return f"/center/requests/{request_id}"


def status_token(keyring: Keyring, request_id: str, expires_at: datetime) -> str:
    return sign_link(keyring, STATUS_PURPOSE, {"request_id": request_id}, expires_at)


def status_link(keyring: Keyring, base_url: str, request_id: str, now: datetime) -> str:
    token = status_token(keyring, request_id, now + STATUS_LINK_TTL)
    return f"{base_url.rstrip('/')}{status_path(request_id)}?link={token}"


def linked_request(keyring: Keyring, token: str, now: datetime) -> str:
    """The request id a status link names; troth.notify's LinkError subclasses when it cannot
    be honoured (tampered, expired, or signed for another purpose)."""
    return str(verify_link(keyring, token, STATUS_PURPOSE, now)["request_id"])
