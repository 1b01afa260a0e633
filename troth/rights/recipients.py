"""Recipient tasks (P23): telling each declared recipient of the affected categories about a
correction, erasure or restriction. Opened by the request's execution; staff mark each done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.audit import Actor

from .models import RecipientTask
from .requests import get_request, note


class UnknownTask(LookupError):
    def __init__(self, task_id: int) -> None:
        super().__init__(f"no recipient task with id {task_id}")
        self.task_id = task_id


def recipient_tasks(session: Session, request_id: str) -> list[RecipientTask]:
    return list(
        session.scalars(
            select(RecipientTask)
            .where(RecipientTask.request_id == request_id)
            .order_by(RecipientTask.id)
        )
    )


def complete_recipient_task(
    session: Session, task_id: int, *, now: datetime, actor: Actor
) -> RecipientTask:
    """Mark that the recipient was told, with the audit event ``rights.recipient_notified``.
    Marking a task already done changes nothing and records nothing."""
    task = session.get(RecipientTask, task_id)
    if task is None:
        raise UnknownTask(task_id)
    if task.state == "done":
        return task
    task.state = "done"
    task.done_at = now
    task.done_by = actor.id
    note(
        session,
        get_request(session, task.request_id),
        "recipient_notified",
        now=now,
        actor=actor,
        details={"task_id": task.id, "recipient": task.recipient},
    )
    return task
