"""Email: an outbox written in the caller's transaction, templates, transports, signed links.

A feature that must tell someone something (a review link, a confirmation) calls
:func:`enqueue` in the transaction that changes its state, so the email exists exactly when the
change was committed. :func:`deliver_due` sends what is due, from ``troth serve``'s background
loop or ``troth mail deliver``. :func:`sign_link` and :func:`verify_link` make the links such
emails carry. See docs/notify.md.
"""

from .delivery import (
    DEFAULT_LEASE,
    DELIVERY_ACTOR,
    MAX_ATTEMPTS,
    DeliveryReport,
    build_email,
    deliver_due,
    retry_delay,
)
from .links import ExpiredLink, LinkError, TamperedLink, WrongPurpose, sign_link, verify_link
from .loop import DeliveryLoop
from .models import MessageStatus, OutboxMessage
from .outbox import Envelope, enqueue, open_message
from .sender import MAIL_FROM_ENV, SenderError, mail_from
from .templates import RenderedMessage, UnknownTemplate, render_message, template_names
from .transports import (
    SMTP_URL_ENV,
    DeliveryError,
    DirectoryTransport,
    SMTPTransport,
    Transport,
    TransportConfigError,
    choose_transport,
)

__all__ = [
    "DEFAULT_LEASE",
    "DELIVERY_ACTOR",
    "MAIL_FROM_ENV",
    "MAX_ATTEMPTS",
    "SMTP_URL_ENV",
    "DeliveryError",
    "DeliveryLoop",
    "DeliveryReport",
    "DirectoryTransport",
    "Envelope",
    "ExpiredLink",
    "LinkError",
    "MessageStatus",
    "OutboxMessage",
    "RenderedMessage",
    "SMTPTransport",
    "SenderError",
    "TamperedLink",
    "Transport",
    "TransportConfigError",
    "UnknownTemplate",
    "WrongPurpose",
    "build_email",
    "choose_transport",
    "deliver_due",
    "enqueue",
    "mail_from",
    "open_message",
    "render_message",
    "retry_delay",
    "sign_link",
    "template_names",
    "verify_link",
]
