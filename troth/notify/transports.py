"""Where sent mail goes: an SMTP server (``TROTH_SMTP_URL``), or a directory of .eml files.

A transport sends one ``EmailMessage`` or raises :class:`DeliveryError` with a reason that holds
no address and no content (an SMTP reply code, an exception's class name): the reason is stored
on the message, logged and written to the audit trail. ``permanent`` says that trying again would
get the same answer (the server refused the message or the recipient with a 5xx reply).
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

SMTP_URL_ENV = "TROTH_SMTP_URL"
DEFAULT_TIMEOUT = 30.0

Security = Literal["none", "starttls", "tls"]
# RFC 4954: authentication required, mechanism too weak, bad credentials, encryption required.
_SETUP_CODES = frozenset({530, 534, 535, 538})
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("none", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}


class DeliveryError(Exception):
    """A message that was not sent; ``reason`` holds no personal data."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class TransportConfigError(ValueError):
    """A transport that cannot be set up as configured; the message never shows a password."""


class Transport(Protocol):
    """Sends one message, or raises DeliveryError."""

    @property
    def description(self) -> str:
        """Where mail goes, for logs (no password)."""
        ...

    def send(self, message: EmailMessage) -> None: ...


class SMTPTransport:
    """An SMTP server, over plain SMTP, STARTTLS or implicit TLS, with optional login."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context

    @classmethod
    def from_url(cls, url: str, *, ssl_context: ssl.SSLContext | None = None) -> SMTPTransport:
        """``smtp://[user:pass@]host[:port]``, ``smtp+starttls://…`` or ``smtps://…``.

        User and password are percent-decoded (write ``@`` in a password as ``%40``).
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in _SCHEMES:
            raise TransportConfigError(
                f"{SMTP_URL_ENV}: scheme {parts.scheme or '(none)'!r} is not one of "
                f"{', '.join(s + '://' for s in _SCHEMES)}; e.g. smtp+starttls://user:pass@host:587"
            )
        security, default_port = _SCHEMES[parts.scheme]
        if not parts.hostname:
            raise TransportConfigError(f"{SMTP_URL_ENV}: no host, as in smtp://mail.example.com")
        try:
            port = parts.port or default_port
        except ValueError:
            raise TransportConfigError(
                f"{SMTP_URL_ENV}: the port is not a number 1-65535"
            ) from None
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(
            parts.hostname,
            port,
            security=security,
            username=username,
            password=password,
            ssl_context=ssl_context,
        )

    @property
    def description(self) -> str:
        scheme = {v[0]: k for k, v in _SCHEMES.items()}[self.security]
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"

    def send(self, message: EmailMessage) -> None:
        try:
            self._send(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            permanent = all(500 <= code < 600 for code in codes)
            raise DeliveryError(
                f"recipient refused (SMTP {', '.join(map(str, codes))})", permanent=permanent
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            # The operator's configuration, not the message: worth trying again once it is fixed.
            raise DeliveryError(f"login refused (SMTP {exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            # Authentication or encryption required: the operator's setting, not the message.
            permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code not in _SETUP_CODES
            raise DeliveryError(f"refused (SMTP {exc.smtp_code})", permanent=permanent) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Their messages can quote the server's reply, which can quote the address.
            raise DeliveryError(f"could not reach the server ({type(exc).__name__})") from None

    def _send(self, message: EmailMessage) -> None:
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self._password or "")
            smtp.send_message(message)


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class DirectoryTransport:
    """Writes each message as ``MESSAGE-ID.eml`` into a directory, to read instead of sending.

    For trying troth out (``make run`` writes to ``var/mail/``): the files hold addresses and
    messages in plain text, readable by the owner only. A message written again (after a crash
    between writing and marking it sent) replaces its own file.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def description(self) -> str:
        return f"the directory {self.directory}"

    def send(self, message: EmailMessage) -> None:
        name = _UNSAFE_NAME.sub("_", str(message["Message-ID"] or "").strip("<>")) or "message"
        path = self.directory / f"{name}.eml"
        temporary = self.directory / f".{name}.{os.getpid()}.tmp"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
            os.replace(temporary, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise DeliveryError(f"could not write to the mail directory ({exc.strerror})") from None


def choose_transport(
    default_directory: Path, environ: Mapping[str, str] | None = None
) -> Transport:
    """SMTP at ``TROTH_SMTP_URL`` when it is set, else the directory ``default_directory``."""
    env = os.environ if environ is None else environ
    url = env.get(SMTP_URL_ENV, "").strip()
    if url:
        return SMTPTransport.from_url(url)
    return DirectoryTransport(default_directory)
