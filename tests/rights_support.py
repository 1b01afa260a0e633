"""What the rights-request tests share: a request taken in and moved to approval, the worker's
handlers, and reading the outbox back."""

from __future__ import annotations

from datetime import datetime

from consent_support import NOW, STAFF
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.datasets import Connected
from troth.declaration import Policy
from troth.jobs import WorkerResult, run_worker_once
from troth.notify import OutboxMessage, open_message
from troth.rights import (
    RightsRequest,
    approve,
    create_request,
    mark_verified,
    rights_handlers,
    start_review,
)
from troth.store import write_scope
from troth.subjects import Keyring

REQUESTER = "asha.rao@example.in"
PARENT = "vikram.rao@example.in"
BASE_URL = "https://kestrel.example"


def take_request(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    kind: str = "access",
    *,
    email: str = REQUESTER,
    now: datetime = NOW,
    **fields: object,
) -> RightsRequest:
    return create_request(
        session, policy, keyring, kind=kind, email=email, now=now, actor=STAFF, **fields
    )


def approved_request(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    kind: str = "access",
    *,
    now: datetime = NOW,
    **fields: object,
) -> str:
    """The id of a request taken in, verified, reviewed and approved (its job queued).

    Written under the write lock from the start, as troth's own writers are: a server's worker
    may write at the same moment (it schedules the daily retention sweep)."""
    with write_scope(sessions) as session:
        request = take_request(session, policy, keyring, kind, now=now, **fields)
        mark_verified(session, request.id, method="email_code", now=now, actor=STAFF)
        start_review(session, request.id, now=now, actor=STAFF)
        approve(session, request.id, now=now, actor=STAFF)
        return request.id


def run_jobs(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    now: datetime = NOW,
    datasets: Connected | None = None,
) -> list[WorkerResult]:
    """Run the worker until no job is due."""
    results = []
    handlers = rights_handlers(policy, keyring, BASE_URL, datasets)
    while (result := run_worker_once(sessions, handlers, now)).job_id is not None:
        results.append(result)
    return results


def outbox(session: Session, keyring: Keyring, template: str) -> list[tuple[str, str]]:
    """(recipient, text) of each queued message of ``template``, oldest first."""
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.template == template)
        .order_by(OutboxMessage.created_at)
    )
    found = []
    for row in rows:
        envelope = open_message(session, keyring, row)
        found.append((envelope.to, envelope.message.text))
    return found
