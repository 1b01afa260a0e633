"""What the mail tests share: a real SMTP server on loopback (aiosmtpd), and raw file bytes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine

# The context of a review email, and a recipient who is no subject.
REVIEW = {
    "organization": "Kestrel Software",
    "kind_label": "testimonial",
    "title": "Fast answers",
    "review_url": "https://kestrel.example/publications/review/TOKEN",
    "expires_on": "10 December 2026",
}
NOBODY = "walk-in.visitor@example.net"  # a recipient who is no subject


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        content: str = part.get_content()
        return content

    @property
    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        if part is None:
            return None
        content: str = part.get_content()
        return content


@dataclass
class Inbox:
    """The SMTP server's handler: keeps what it accepts, or answers ``refuse`` to every DATA."""

    received: list[Received] = field(default_factory=list)
    refuse: str | None = None
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse is not None:
                self.refused += 1
                return self.refuse
            message = message_from_bytes(envelope.original_content, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, str]]:
    """An SMTP server on 127.0.0.1 and its ``smtp://`` URL."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def database_bytes(engine: Engine) -> bytes:
    """A SQLite database's files as they are on disk (main file and write-ahead log)."""
    database = engine.url.database
    assert database
    return b"".join(
        path.read_bytes() for path in (Path(database), Path(f"{database}-wal")) if path.exists()
    )
