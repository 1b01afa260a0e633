"""Enqueue, claim and run durable jobs.

:func:`enqueue_job` adds a job to the caller's session, so the work exists exactly when the state
that needs it is committed. :func:`claim` takes the oldest due job under a lease, in a short
transaction of its own: on PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so concurrent workers take
different jobs; on SQLite under the database's write lock, so they take turns. A job whose lease
ran out (its worker crashed or hung) is due again, and the next worker resumes it.

A job can therefore run more than once. Handlers make that harmless: each of their steps records
its completion in the same transaction as its effect, and a step already recorded is skipped
(see troth.rights.execute). A handler that raises leaves the job to be tried again after a
growing wait, until ``MAX_ATTEMPTS``; the error is kept by its type only, since messages can
quote personal data.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor, record_event
from troth.store import write_scope

from .models import Job, JobState

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)
WORKER_ACTOR = Actor.system("troth.jobs.worker")

# A handler does the job's work with sessions of its own, from the job's payload, at ``now``.
Handler = Callable[[sessionmaker[Session], Mapping[str, Any], datetime], None]


@dataclass(frozen=True)
class WorkerResult:
    """What one call of :func:`run_worker_once` did: the job it ran, if any, and how it ended."""

    job_id: str | None = None
    kind: str | None = None
    outcome: str | None = None  # "done", "retry" or "failed"


def enqueue_job(
    session: Session,
    kind: str,
    payload: Mapping[str, str | int],
    *,
    now: datetime,
    actor: Actor,
    run_after: datetime | None = None,
    subject_id: str | None = None,
) -> Job:
    """Add a job to the caller's transaction, with the audit event ``job.queued``."""
    for name, value in payload.items():
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError(f"job payload {name}: only ids (text) and whole numbers")
    job = Job(
        id=str(uuid.uuid4()),
        kind=kind,
        payload=dict(payload),
        state=JobState.pending.value,
        attempts=0,
        created_at=now,
        run_after=run_after or now,
    )
    session.add(job)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="job.queued",
        subject_id=subject_id,
        details={"job_id": job.id, "kind": kind},
        now=now,
    )
    return job


def _due(now: datetime, kinds: list[str] | None) -> Any:
    query = (
        select(Job)
        .where(
            or_(
                and_(Job.state == JobState.pending.value, Job.run_after <= now),
                # a lease that ran out: its worker is gone, the job is resumed
                and_(Job.state == JobState.running.value, Job.lease_until <= now),
            )
        )
        .order_by(Job.run_after, Job.id)
        .limit(1)
    )
    if kinds is not None:
        query = query.where(Job.kind.in_(kinds))
    return query


def claim(
    sessions: sessionmaker[Session],
    now: datetime,
    owner: str,
    *,
    lease: timedelta = DEFAULT_LEASE,
    kinds: list[str] | None = None,
) -> Job | None:
    """Take the oldest due job for ``owner`` until ``now + lease``, or None if none is due."""
    due = _due(now, kinds)
    # A look without locking first: most passes find nothing, and on SQLite taking the write lock
    # every few seconds for nothing would make the API's writers wait.
    with sessions() as session:
        if session.scalar(due.with_only_columns(Job.id)) is None:
            return None
    with write_scope(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        job: Job | None = session.scalar(due)
        if job is None:
            return None
        job.state = JobState.running.value
        job.lease_owner = owner
        job.lease_until = now + lease
        job.attempts += 1
        session.flush()
        return job


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed run: 1, 2, 4, … minutes, at most 6 hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def _finish(
    sessions: sessionmaker[Session],
    job_id: str,
    owner: str,
    now: datetime,
    error: BaseException | None,
    max_attempts: int,
) -> str | None:
    with write_scope(sessions) as session:
        job = session.get(Job, job_id)
        # Only under our own lease: if it ran out and another worker took the job, theirs counts.
        if job is None or job.state != JobState.running.value or job.lease_owner != owner:
            return None
        job.lease_owner = None
        job.lease_until = None
        details: dict[str, Any] = {"job_id": job.id, "kind": job.kind, "attempts": job.attempts}
        if error is None:
            job.state, action = JobState.done.value, "job.done"
            job.finished_at = now
        elif job.attempts >= max_attempts:
            job.state, action = JobState.failed.value, "job.failed"
            job.finished_at = now
            job.last_error = type(error).__name__
            details["error"] = job.last_error
        else:
            job.state, action = JobState.pending.value, "job.deferred"
            job.run_after = now + retry_delay(job.attempts)
            job.last_error = type(error).__name__
            details["error"] = job.last_error
        session.flush()
        record_event(session, actor=WORKER_ACTOR, action=action, details=details, now=now)
        return {"job.done": "done", "job.failed": "failed"}.get(action, "retry")


def run_worker_once(
    sessions: sessionmaker[Session],
    handlers: Mapping[str, Handler],
    now: datetime,
    *,
    owner: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
    max_attempts: int = MAX_ATTEMPTS,
) -> WorkerResult:
    """Claim one due job of a kind in ``handlers``, run it, and record how it ended."""
    owner = owner or f"worker-{uuid.uuid4()}"
    job = claim(sessions, now, owner, lease=lease, kinds=sorted(handlers))
    if job is None:
        return WorkerResult()
    error: BaseException | None = None
    try:
        handlers[job.kind](sessions, job.payload, now)
    except Exception as exc:
        error = exc
        log.error("job %s (%s) failed: %s", job.id, job.kind, type(exc).__name__)
    outcome = _finish(sessions, job.id, owner, now, error, max_attempts)
    return WorkerResult(job.id, job.kind, outcome)
