"""Closing an account (P19): the account's data is erased as an erasure request would erase it,
keeping only what a legal rule holds (P12).

The account's owner is already known to the company (signed in), so the request is recorded as
verified by ``account`` and approved at once; its execution is the same job as any erasure's.
The ``account_closed`` event is recorded first, so rules whose clocks wait for it get deadlines.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.declaration import Policy
from troth.subjects import Keyring
from troth.vault import record_subject_event

from .models import RightsRequest
from .requests import approve, create_request, mark_verified, start_review


def close_account(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    *,
    email: str,
    now: datetime,
    actor: Actor,
    jurisdiction: str | None = None,
) -> RightsRequest:
    """Record the account's closure and queue its erasure, in the caller's transaction."""
    request = create_request(
        session,
        policy,
        keyring,
        kind="erasure",
        email=email,
        now=now,
        actor=actor,
        jurisdiction=jurisdiction,
    )
    record_subject_event(
        session,
        policy,
        subject_id=request.subject_id,
        event="account_closed",
        occurred_at=now,
        now=now,
        actor=actor,
    )
    mark_verified(session, request.id, method="account", now=now, actor=actor)
    start_review(session, request.id, now=now, actor=actor)
    return approve(session, request.id, now=now, actor=actor)
