"""Durable work: jobs recorded in the caller's transaction and claimed by workers under a lease.

:func:`enqueue_job` records a job with the state that needs it; :func:`run_worker_once` claims
one due job and runs its handler; a crashed worker's lease runs out and another worker resumes
the job. Handlers keep their steps idempotent. See docs/rights.md ("Jobs").
"""

from .loop import WorkerLoop
from .models import Job, JobState
from .queue import (
    DEFAULT_LEASE,
    MAX_ATTEMPTS,
    WORKER_ACTOR,
    Handler,
    WorkerResult,
    claim,
    enqueue_job,
    retry_delay,
    run_worker_once,
)

__all__ = [
    "DEFAULT_LEASE",
    "MAX_ATTEMPTS",
    "WORKER_ACTOR",
    "Handler",
    "Job",
    "JobState",
    "WorkerLoop",
    "WorkerResult",
    "claim",
    "enqueue_job",
    "retry_delay",
    "run_worker_once",
]
