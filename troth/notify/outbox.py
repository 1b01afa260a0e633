"""Enqueue an email in the caller's transaction, and open a stored one for delivery.

A message exists exactly when the state that needs it was committed: ``enqueue`` adds its row to
the caller's session and the caller commits both together (or neither). The address and the
rendered message are encrypted before they reach the session; nothing here logs them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.subjects import (
    DataKey,
    IdentityKind,
    Keyring,
    TamperedError,
    decrypt,
    encrypt,
    normalise,
)
from troth.subjects.models import Subject
from troth.subjects.registry import UnknownSubject, data_key, get_subject

from .models import MessageStatus, OutboxMessage
from .templates import RenderedMessage, render_message


@dataclass(frozen=True)
class Envelope:
    """A stored message opened for sending: its recipient and what it says."""

    message_id: str
    to: str
    message: RenderedMessage


def _associated_data(part: str, message_id: str, subject_id: str | None) -> bytes:
    # Binds each ciphertext to its row and field: moved to another row, it does not decrypt.
    return f"troth.outbox\x00{part}\x00{message_id}\x00{subject_id or ''}".encode()


def enqueue(
    session: Session,
    *,
    keyring: Keyring,
    to: str,
    template: str,
    context: Mapping[str, Any],
    now: datetime,
    actor: Actor,
    subject_id: str | None = None,
    policy_version: str | None = None,
) -> OutboxMessage:
    """Render ``template`` with ``context`` and queue it for ``to``, in the caller's transaction.

    ``to`` is normalised as an email identity (IdentityError, naming no value, if it is not an
    address). With ``subject_id`` the message is encrypted under that subject's data key,
    otherwise under the master key's outbox subkey. Writes the audit event ``mail.queued``
    (the message id and template, never the address). Raises UnknownTemplate, or Jinja2's
    UndefinedError when the context lacks a variable the template uses.
    """
    address = normalise(IdentityKind.email, to)
    rendered = render_message(template, context)
    message_id = str(uuid.uuid4())
    if subject_id is not None:
        subject = get_subject(session, subject_id)
        owner: str | None = subject.id
        key = data_key(keyring, subject)
    else:
        owner, key = None, keyring.current.outbox_key()
    content = json.dumps(
        {"subject": rendered.subject, "text": rendered.text, "html": rendered.html},
        ensure_ascii=False,
    ).encode()
    row = OutboxMessage(
        id=message_id,
        template=template,
        subject_id=owner,
        recipient=encrypt(key, address.encode(), _associated_data("to", message_id, owner)),
        content=encrypt(key, content, _associated_data("content", message_id, owner)),
        status=MessageStatus.pending.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="mail.queued",
        subject_id=owner,
        policy_version=policy_version,
        details={"message_id": message_id, "template": template},
        now=now,
    )
    return row


def open_message(session: Session, keyring: Keyring, row: OutboxMessage) -> Envelope:
    """The recipient and content of a stored message, decrypted.

    Raises ShreddedSubject when the message's subject was erased (its key is gone, and with it
    the message), TamperedError when a ciphertext does not match its row.
    """
    keys: list[DataKey]
    if row.subject_id is not None:
        # The subject's own row, not the one it may since have been merged into: the message
        # is under the key it was written with, which a merge keeps.
        subject = session.get(Subject, row.subject_id)
        if subject is None:
            raise UnknownSubject(row.subject_id)
        keys = [data_key(keyring, subject)]
    else:
        keys = keyring.outbox_keys()
    for key in keys:
        try:
            to = decrypt(key, row.recipient, _associated_data("to", row.id, row.subject_id))
        except TamperedError:
            continue
        content = json.loads(
            decrypt(key, row.content, _associated_data("content", row.id, row.subject_id))
        )
        message = RenderedMessage(
            subject=content["subject"], text=content["text"], html=content["html"]
        )
        return Envelope(message_id=row.id, to=to.decode(), message=message)
    raise TamperedError(
        f"outbox message {row.id}: its address does not decrypt under any loaded master key"
    )
