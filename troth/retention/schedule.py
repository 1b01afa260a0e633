"""The daily retention sweep, as durable work: the worker queues a ``retention.sweep`` job for
the next sweep hour whenever none is waiting, and the job runs :func:`sweep_vault`.

The check reads first, without a lock; only when no sweep is scheduled ahead does it take the
write lock and queue one (checking again under the lock). So an idle worker pass costs one read,
and after each sweep runs the next day's is queued. Two workers racing on PostgreSQL may both
queue one: the second sweep then finds nothing due.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.datasets import Connected
from troth.declaration import Policy
from troth.jobs import Handler, Job, enqueue_job
from troth.store import write_scope
from troth.subjects import Keyring

from .sweep import SWEEP_ACTOR, sweep_vault

SWEEP_JOB = "retention.sweep"
# When the daily sweep runs (UTC): a quiet hour for most companies.
SWEEP_AT = time(2, 0)


def next_sweep_time(now: datetime, at: time = SWEEP_AT) -> datetime:
    """The next ``at`` (UTC) after ``now``."""
    today = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


def _scheduled(session: Session, now: datetime) -> bool:
    query = select(Job.id).where(Job.kind == SWEEP_JOB, Job.run_after > now).limit(1)
    return session.scalar(query) is not None


def schedule_daily_sweep(
    sessions: sessionmaker[Session], now: datetime, *, at: time = SWEEP_AT
) -> bool:
    """Queue the next daily sweep unless one is already scheduled after ``now``; True if queued."""
    with sessions() as session:
        if _scheduled(session, now):
            return False
    with write_scope(sessions) as session:
        if _scheduled(session, now):
            return False
        enqueue_job(
            session, SWEEP_JOB, {}, now=now, actor=SWEEP_ACTOR, run_after=next_sweep_time(now, at)
        )
        return True


def retention_handlers(
    policy: Policy, keyring: Keyring | None = None, datasets: Connected | None = None
) -> dict[str, Handler]:
    """The job handler that runs a sweep (of the vault, and of ``datasets`` when given) at the
    time the worker runs it."""

    def sweep(sessions: sessionmaker[Session], payload: Mapping[str, Any], now: datetime) -> None:
        sweep_vault(sessions, policy, now, datasets=datasets, keyring=keyring)

    return {SWEEP_JOB: sweep}
