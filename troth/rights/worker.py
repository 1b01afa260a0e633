"""One worker pass: run the due jobs, remind the team of deadlines, and keep the daily
retention sweep scheduled (troth.retention.schedule).

``troth worker`` calls :func:`worker_pass` in a loop; ``troth serve`` runs the same loop in a
background thread. The reminder check reads first without locking and takes the write lock only
when some open request is due within the reminder window, so an idle pass costs two reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.datasets import Connected
from troth.declaration import Policy
from troth.jobs import DEFAULT_LEASE, run_worker_once
from troth.retention import retention_handlers, schedule_daily_sweep
from troth.store import write_scope
from troth.subjects import Keyring

from .execute import rights_handlers
from .models import RightsRequest
from .reminders import DEFAULT_WITHIN, due_reminders
from .states import OPEN

MAX_JOBS_PER_PASS = 20


@dataclass(frozen=True)
class PassReport:
    jobs_done: int = 0
    jobs_retried: int = 0
    jobs_failed: int = 0
    reminders: int = 0
    sweep_scheduled: bool = False


def worker_pass(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    now: datetime,
    *,
    base_url: str = "",
    owner: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
    remind_within: timedelta = DEFAULT_WITHIN,
    datasets: Connected | None = None,
    retention: bool = True,
) -> PassReport:
    """Run up to ``MAX_JOBS_PER_PASS`` due jobs, then queue the deadline reminders due, and
    the next daily retention sweep unless one is scheduled (``retention=False`` leaves that
    out); requests reach into the company databases of ``datasets``."""
    handlers = rights_handlers(policy, keyring, base_url, datasets)
    if retention:
        handlers |= retention_handlers(policy, keyring, datasets)
    outcomes: list[str | None] = []
    for _ in range(MAX_JOBS_PER_PASS):
        result = run_worker_once(sessions, handlers, now, owner=owner, lease=lease)
        if result.job_id is None:
            break
        outcomes.append(result.outcome)
    reminders = 0
    horizon = now + remind_within
    with sessions() as session:
        due = session.scalar(
            select(RightsRequest.id)
            .where(
                RightsRequest.state.in_(sorted(s.value for s in OPEN)),
                (RightsRequest.acknowledge_by <= horizon) | (RightsRequest.complete_by <= horizon),
            )
            .limit(1)
        )
    if due is not None:
        with write_scope(sessions) as session:
            reminders = due_reminders(session, policy, keyring, now, within=remind_within)
    scheduled = schedule_daily_sweep(sessions, now) if retention else False
    return PassReport(
        jobs_done=outcomes.count("done"),
        jobs_retried=outcomes.count("retry"),
        jobs_failed=outcomes.count("failed"),
        reminders=reminders,
        sweep_scheduled=scheduled,
    )
