"""Durable jobs: enqueued with the caller's transaction, claimed under a lease, resumed by
another worker when the lease runs out, retried after a failure, given up after the last try."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from consent_support import NOW, STAFF, audit_events
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.jobs import Job, claim, enqueue_job, retry_delay, run_worker_once

LEASE = timedelta(minutes=10)


def _enqueue(sessions: sessionmaker[Session], n: int = 1, **payload: str | int) -> list[str]:
    with sessions.begin() as session:
        return [
            enqueue_job(session, "test.work", {"n": i} | payload, now=NOW, actor=STAFF).id
            for i in range(n)
        ]


def _job(sessions: sessionmaker[Session], job_id: str) -> Job:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_job_exists_only_if_its_transaction_commits(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), sessions.begin() as session:
        enqueue_job(session, "test.work", {"n": 1}, now=NOW, actor=STAFF)
        raise RuntimeError("the caller's change failed")
    with sessions() as session:
        assert session.scalars(select(Job)).all() == []


def test_a_payload_holds_ids_and_numbers_only(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session, pytest.raises(ValueError, match="payload note"):
        enqueue_job(session, "test.work", {"note": ["a"]}, now=NOW, actor=STAFF)  # type: ignore[dict-item]


def test_a_crashed_workers_lease_runs_out_and_another_resumes(
    sessions: sessionmaker[Session],
) -> None:
    [job_id] = _enqueue(sessions)
    crashed = claim(sessions, NOW, "worker-a", lease=LEASE)
    assert crashed is not None and crashed.id == job_id
    ran: list[tuple[Mapping[str, Any], datetime]] = []

    def handler(_s: sessionmaker[Session], payload: Mapping[str, Any], now: datetime) -> None:
        ran.append((payload, now))

    handlers = {"test.work": handler}
    # worker-a never finishes; while its lease holds, nobody else takes the job
    assert run_worker_once(sessions, handlers, NOW + LEASE / 2, owner="worker-b").job_id is None
    later = NOW + LEASE + timedelta(seconds=1)
    result = run_worker_once(sessions, handlers, later, owner="worker-b")
    assert (result.job_id, result.outcome) == (job_id, "done")
    assert ran == [({"n": 0}, later)]
    job = _job(sessions, job_id)
    assert job.state == "done" and job.attempts == 2 and job.lease_owner is None
    # worker-a comes back late: its lease is gone, it cannot record an outcome
    assert run_worker_once(sessions, handlers, later, owner="worker-a").job_id is None


def test_a_failing_job_is_retried_then_given_up(sessions: sessionmaker[Session]) -> None:
    [job_id] = _enqueue(sessions)

    def fails(_s: sessionmaker[Session], _p: Mapping[str, Any], _now: datetime) -> None:
        raise ValueError("the subject's address is asha@example.in")

    handlers = {"test.work": fails}
    now = NOW
    outcomes = []
    for _ in range(3):
        result = run_worker_once(sessions, handlers, now, max_attempts=3)
        outcomes.append(result.outcome)
        now += retry_delay(3) + timedelta(seconds=1)
    assert outcomes == ["retry", "retry", "failed"]
    job = _job(sessions, job_id)
    assert job.state == "failed" and job.last_error == "ValueError"
    assert run_worker_once(sessions, handlers, now + timedelta(days=1)).job_id is None
    with sessions() as session:
        failed = audit_events(session, "job.failed")
        assert failed[0].details == {
            "job_id": job_id,
            "kind": "test.work",
            "attempts": 3,
            "error": "ValueError",
        }


def test_retries_wait_longer_each_time() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert retry_delay(30) == timedelta(hours=6)


def test_only_kinds_with_a_handler_are_claimed(sessions: sessionmaker[Session]) -> None:
    _enqueue(sessions)
    assert run_worker_once(sessions, {"other.kind": lambda *_: None}, NOW).job_id is None


@pytest.mark.postgres
def test_concurrent_claims_skip_a_locked_job(postgres_url: str, tmp_path: Any) -> None:
    from audit_support import migrated_engine

    from troth.store import make_sessionmaker

    with migrated_engine("postgres", tmp_path, postgres_url) as engine:
        sessions = make_sessionmaker(engine)
        first, second = _enqueue(sessions, 2)
        # Another worker is in the middle of claiming the first job: its row is locked.
        with sessions() as holder, holder.begin():
            holder.execute(select(Job).where(Job.id == first).with_for_update())
            taken = claim(sessions, NOW, "worker-b", lease=LEASE)
            assert taken is not None and taken.id == second
            assert claim(sessions, NOW, "worker-c", lease=LEASE) is None
