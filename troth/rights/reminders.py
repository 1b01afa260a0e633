"""Reminders to the privacy team before a request's deadline, one per deadline (P14).

:func:`due_reminders` finds open requests whose next deadline falls within ``within`` (overdue
ones included) and queues one email each to the team. A reminder is recorded per request,
deadline and due moment, unique in the database, so running it again (or on two workers at once)
never sends a second one; an extension moves the deadline and earns a new reminder.

The team's address: ``TROTH_PRIVACY_TEAM_EMAIL`` if set, else the declaration's privacy officer,
else the organization's contact address. The message holds the request's id, right and deadline,
nothing about the subject.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.declaration import Policy
from troth.notify import enqueue
from troth.store import take_sqlite_write_lock
from troth.subjects import Keyring

from .models import DeadlineReminder, RightsRequest
from .requests import KIND_LABELS
from .states import OPEN
from .worklist import next_due

TEAM_EMAIL_ENV = "TROTH_PRIVACY_TEAM_EMAIL"
DEFAULT_WITHIN = timedelta(hours=48)
REMINDER_ACTOR = Actor.system("troth.rights.reminders")


class NoTeamAddress(ValueError):
    def __init__(self) -> None:
        super().__init__(
            f"no address for deadline reminders: set {TEAM_EMAIL_ENV}, or give the "
            "declaration's organization a privacy_officer with an email"
        )


def team_address(policy: Policy) -> str:
    configured = os.environ.get(TEAM_EMAIL_ENV, "").strip()
    if configured:
        return configured
    org = policy.declaration.organization
    for contact in (org.privacy_officer, org.contact):
        if contact is not None and contact.email:
            return contact.email
    raise NoTeamAddress()


def due_reminders(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    now: datetime,
    *,
    within: timedelta = DEFAULT_WITHIN,
    actor: Actor = REMINDER_ACTOR,
) -> int:
    """Queue a reminder for each open request due within ``within`` not yet reminded of that
    deadline; returns how many were queued. Runs in the caller's transaction."""
    take_sqlite_write_lock(session, "rights_deadline_reminders")
    horizon = now + within
    candidates = session.scalars(
        select(RightsRequest).where(
            RightsRequest.state.in_(sorted(s.value for s in OPEN)),
            (RightsRequest.acknowledge_by <= horizon) | (RightsRequest.complete_by <= horizon),
        )
    ).all()
    sent = 0
    address: str | None = None
    for request in candidates:
        which, due = next_due(request)
        if due is None or due > horizon:
            continue
        already = session.scalar(
            select(DeadlineReminder.id).where(
                DeadlineReminder.request_id == request.id,
                DeadlineReminder.deadline == which,
                DeadlineReminder.due_at == due,
            )
        )
        if already is not None:
            continue
        try:
            with session.begin_nested():
                session.add(
                    DeadlineReminder(request_id=request.id, deadline=which, due_at=due, sent_at=now)
                )
                session.flush()
        except IntegrityError:
            continue  # another worker reminded of it just now
        address = address or team_address(policy)
        enqueue(
            session,
            keyring=keyring,
            to=address,
            template="rights_reminder",
            context={
                "organization": policy.organization_name,
                "request_id": request.id,
                "right": KIND_LABELS[request.kind],
                "deadline": which,
                "due_at": due.strftime("%Y-%m-%d %H:%M"),
                "overdue": due <= now,
            },
            now=now,
            actor=actor,
            policy_version=request.policy_version,
        )
        sent += 1
    return sent
