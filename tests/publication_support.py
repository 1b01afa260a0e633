"""What the publication tests share: drafting through the API, the mail it sends, its links."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from consent_api_support import EMAIL, ConsentApi
from httpx import Response
from notify_support import Inbox, Received, smtp_server

from troth.notify import SMTPTransport, deliver_due
from troth.subjects import Keyring

TITLE = "Kestrel answered in an hour"
TEXT = "I run a bakery in Pune.\nKestrel's team fixed our billing before the lunch rush."
SENDER = "Kestrel Software <hello@kestrel.example>"
LINK = re.compile(r"http://testserver(/publications/(?:review|withdraw)/[A-Za-z0-9_.-]+)")


def draft_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "identity": {"kind": "email", "value": EMAIL},
        "kind": "testimonial",
        "title": TITLE,
        "text": TEXT,
        "review_email": EMAIL,
    }
    return body | changes


def draft(api: ConsentApi, **changes: Any) -> dict[str, Any]:
    response = api.post("/publications/drafts", "publications:write", draft_body(**changes))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def listing(api: ConsentApi) -> list[dict[str, Any]]:
    response = api.get("/publications", "publications:read")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["publications"]
    return items


def keyring_of(api: ConsentApi) -> Keyring:
    keyring: Keyring = api.app.state.site.keyring
    return keyring


class Mail:
    """A real SMTP server, and delivery of the app's outbox to it."""

    def __init__(self, inbox: Inbox, url: str) -> None:
        self.inbox = inbox
        self.transport = SMTPTransport.from_url(url)

    def deliver(self, api: ConsentApi) -> list[Received]:
        """Send what is due now; the messages that arrived by this pass."""
        before = len(self.inbox.received)
        deliver_due(
            api.app.state.site.sessions,
            self.transport,
            api.clock(),
            keyring=keyring_of(api),
            sender=SENDER,
        )
        return self.inbox.received[before:]


@contextmanager
def mail_server() -> Iterator[Mail]:
    with smtp_server() as (inbox, url):
        yield Mail(inbox, url)


def link_in(received: Received) -> str:
    """The path of the one troth link in a message (the same in its text and HTML parts)."""
    [path] = set(LINK.findall(received.text))
    if received.html is not None:
        assert set(LINK.findall(received.html)) == {path}
    return path


def decide(api: ConsentApi, path: str, decision: str | None = None) -> Response:
    data = {"decision": decision} if decision else {}
    return api.client.post(path, data=data)
