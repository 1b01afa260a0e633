"""The retention sweep over the vault (P17–P19): at its deadline an item is deleted, anonymised
or isolated, as the rule governing it declares.

Set-based and batched: for each rule, up to ``batch_size`` due items are selected (by deadline,
locked with ``SKIP LOCKED`` on PostgreSQL) and acted on by one statement, and the transaction
commits; then the next batch. No lock is held longer than one batch. A batch's items are no
longer due once it commits (gone, or isolated), so a sweep stopped anywhere can simply run
again: it finishes the work and changes nothing twice.

An item is due when its ``retain_until`` has passed, no child hold keeps it (``hold_id``: the
children's sweep decides those, troth.children), and no active legal hold covers it. Legal
holds are read again for every batch, so a hold placed while a sweep runs is respected from
its next batch.

- ``delete``: the rows are deleted.
- ``anonymize``: the rows are deleted, and a count per rule, category, purpose and month of
  collection is added to ``retention_aggregates``, in the same transaction. The vault holds
  values encrypted under their subject's key: generalising them would mean decrypting them in
  the sweep, so anonymisation here keeps only statistics that cannot be tied to anyone.
- ``isolate``: ``isolated_at`` is set; the item is kept, encrypted, out of every ordinary read
  (:func:`troth.vault.items_of` leaves it out), until the subject's erasure or account closure
  deletes it. An isolated item whose rule now says ``delete`` or ``anonymize`` (a later
  declaration) is deleted by the sweep.

Each run is recorded in ``retention_sweeps`` (its counts written with each batch) and ends with
one audit event ``retention.swept``: counts per source, rule and action, no personal data. A run
that fails records ``retention.sweep_failed`` (the error's type, and the counts so far) before the
error goes on; a run whose process died is found by the next sweep at least
:data:`STALE_AFTER` after it started, and recorded as ``retention.sweep_interrupted``.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, not_, select, update
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor, record_event
from troth.datasets import Connected
from troth.declaration import Policy
from troth.store import write_scope
from troth.subjects import Keyring
from troth.vault.models import VaultItem

from .holds import active_holds, vault_hold_condition
from .models import RetentionAggregate, RetentionSweep

log = logging.getLogger(__name__)

SWEEP_ACTOR = Actor.system("troth.retention.sweep")
SOURCE = "vault"
DEFAULT_BATCH = 1000
ACTIONS = ("delete", "anonymize", "isolate")
# An unfinished run older than this, when a sweep starts, is taken to have died (a sweep of ten
# million rows takes minutes; the daily schedule starts the next one a day later).
STALE_AFTER = timedelta(hours=6)

# Called after each batch with the items acted on so far and the number due when the sweep began.
Progress = Callable[[int, int], None]
# {source: {rule: {action: items}}}
Counts = dict[str, dict[str, dict[str, int]]]


@dataclass
class SweepReport:
    """What one sweep did: items per source, rule and action; items due but kept by legal holds
    per source and rule; due items whose rule the declaration no longer has (left alone)."""

    sweep_id: str
    started_at: datetime
    finished_at: datetime | None = None
    counts: Counts = field(default_factory=dict)
    held: dict[str, dict[str, int]] = field(default_factory=dict)
    unknown_rules: dict[str, int] = field(default_factory=dict)
    # per source: fields a company database's sweep could not act on, and why (names only)
    skipped: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    batches: int = 0

    def total(self, action: str | None = None) -> int:
        return sum(
            n
            for rules in self.counts.values()
            for actions in rules.values()
            for a, n in actions.items()
            if action is None or a == action
        )

    def add(self, source: str, rule: str, action: str, items: int) -> None:
        actions = self.counts.setdefault(source, {}).setdefault(rule, {})
        actions[action] = actions.get(action, 0) + items

    def as_json(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "counts": self.counts,
            "held": self.held,
            "unknown_rules": self.unknown_rules,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class DueItem:
    """What a batch reads of a due item: enough to act on it and to count it when anonymised."""

    id: int
    category: str
    purpose: str
    collected_at: datetime


def due_condition(rule: str, action: str, now: datetime) -> ColumnElement[bool]:
    """The items of ``rule`` due for ``action`` at ``now``, before legal holds are considered."""
    conditions = [
        VaultItem.retention_rule == rule,
        VaultItem.retain_until <= now,
        VaultItem.hold_id.is_(None),
    ]
    if action == "isolate":
        conditions.append(VaultItem.isolated_at.is_(None))
    return and_(*conditions)


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _aggregate(session: Session, rule: str, rows: Sequence[DueItem]) -> None:
    """Add the rows' counts per category, purpose and month of collection."""
    counts = Counter((row.category, row.purpose, month_of(row.collected_at)) for row in rows)
    existing = {
        (a.category, a.purpose, a.month): a
        for a in session.scalars(
            select(RetentionAggregate).where(
                RetentionAggregate.source == SOURCE,
                RetentionAggregate.rule == rule,
                RetentionAggregate.category.in_(sorted({k[0] for k in counts})),
                RetentionAggregate.month.in_(sorted({k[2] for k in counts})),
            )
        )
    }
    for (category, purpose, month), n in sorted(counts.items()):
        found = existing.get((category, purpose, month))
        if found is not None:
            found.count += n
        else:
            session.add(
                RetentionAggregate(
                    source=SOURCE,
                    rule=rule,
                    category=category,
                    purpose=purpose,
                    month=month,
                    count=n,
                )
            )


def act(session: Session, action: str, rule: str, rows: Sequence[DueItem], now: datetime) -> None:
    """Carry out ``action`` on the batch ``rows`` (id, category, purpose, collected_at)."""
    ids = [row.id for row in rows]
    if action == "isolate":
        session.execute(
            update(VaultItem)
            .where(VaultItem.id.in_(ids))
            .values(isolated_at=now)
            .execution_options(synchronize_session=False)
        )
        return
    if action == "anonymize":
        _aggregate(session, rule, rows)
    session.execute(
        delete(VaultItem).where(VaultItem.id.in_(ids)).execution_options(synchronize_session=False)
    )


def _batch(
    sessions: sessionmaker[Session],
    rule: str,
    action: str,
    now: datetime,
    batch_size: int,
    report: SweepReport,
) -> int:
    """One batch of one rule in its own transaction; the number of items acted on."""
    with write_scope(sessions) as session:
        held = vault_hold_condition(session, active_holds(session, now))
        query = (
            select(VaultItem.id, VaultItem.category, VaultItem.purpose, VaultItem.collected_at)
            .where(due_condition(rule, action, now), not_(held))
            .order_by(VaultItem.retain_until, VaultItem.id)
            .limit(batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [DueItem(*row) for row in session.execute(query)]
        if not rows:
            return 0
        act(session, action, rule, rows, now)
        report.add(SOURCE, rule, action, len(rows))
        sweep = session.get(RetentionSweep, report.sweep_id)
        assert sweep is not None
        sweep.counts = report.as_json()["counts"]
        return len(rows)


def _count_due(session: Session, policy: Policy, now: datetime) -> int:
    held = vault_hold_condition(session, active_holds(session, now))
    total = 0
    for rule in policy.declaration.retention:
        total += (
            session.scalar(
                select(func.count())
                .select_from(VaultItem)
                .where(due_condition(rule.key, rule.action, now), not_(held))
            )
            or 0
        )
    return total


def _left_behind(session: Session, policy: Policy, now: datetime, report: SweepReport) -> None:
    """Count what the sweep leaves due: kept by legal holds, or under a rule no longer declared."""
    held = vault_hold_condition(session, active_holds(session, now))
    for rule in policy.declaration.retention:
        n = session.scalar(
            select(func.count())
            .select_from(VaultItem)
            .where(due_condition(rule.key, rule.action, now), held)
        )
        if n:
            report.held.setdefault(SOURCE, {})[rule.key] = n
    known = sorted(policy.retention_rules)
    rows = session.execute(
        select(VaultItem.retention_rule, func.count())
        .where(
            VaultItem.retain_until <= now,
            VaultItem.hold_id.is_(None),
            VaultItem.retention_rule.not_in(known),
        )
        .group_by(VaultItem.retention_rule)
    )
    report.unknown_rules = {rule: n for rule, n in rows}


def sweep_vault(
    sessions: sessionmaker[Session],
    policy: Policy,
    now: datetime,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    actor: Actor = SWEEP_ACTOR,
    datasets: Connected | None = None,
    keyring: Keyring | None = None,
) -> SweepReport:
    """Act on every vault item due at ``now``, rule by rule in batches of ``batch_size``, then
    on every connected company database (``datasets``, which needs the ``keyring``), and record
    the run with the audit event ``retention.swept``."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = SweepReport(sweep_id=str(uuid.uuid4()), started_at=now)
    with write_scope(sessions) as session:
        _close_interrupted(session, policy, now, actor)
        session.add(RetentionSweep(id=report.sweep_id, started_at=now, counts={}))
    try:
        _run(sessions, policy, now, report, batch_size, progress, datasets, keyring)
    except Exception as exc:
        _record_failure(sessions, policy, now, actor, report, exc)
        raise
    with write_scope(sessions) as session:
        _left_behind(session, policy, now, report)
        sweep = session.get(RetentionSweep, report.sweep_id)
        assert sweep is not None
        sweep.counts = report.as_json()["counts"]
        sweep.finished_at = now
        sweep.outcome = "finished"
        report.finished_at = now
        record_event(
            session,
            actor=actor,
            action="retention.swept",
            policy_version=policy.version,
            details=report.as_json() | {"batches": report.batches},
            now=now,
        )
    return report


def _close_interrupted(session: Session, policy: Policy, now: datetime, actor: Actor) -> None:
    """Record the runs that started long ago and never ended (their process died)."""
    stale = session.scalars(
        select(RetentionSweep).where(
            RetentionSweep.finished_at.is_(None),
            RetentionSweep.outcome.is_(None),
            RetentionSweep.started_at < now - STALE_AFTER,
        )
    ).all()
    for run in stale:
        run.outcome = "interrupted"
        record_event(
            session,
            actor=actor,
            action="retention.sweep_interrupted",
            policy_version=policy.version,
            details={
                "sweep_id": run.id,
                "started_at": run.started_at.isoformat(),
                "counts": run.counts,
            },
            now=now,
        )


def _record_failure(
    sessions: sessionmaker[Session],
    policy: Policy,
    now: datetime,
    actor: Actor,
    report: SweepReport,
    exc: Exception,
) -> None:
    """Record that the run failed, with what it did before; the error itself goes on."""
    try:
        with write_scope(sessions) as session:
            sweep = session.get(RetentionSweep, report.sweep_id)
            if sweep is not None:
                sweep.outcome = "failed"
                sweep.counts = report.as_json()["counts"]
            record_event(
                session,
                actor=actor,
                action="retention.sweep_failed",
                policy_version=policy.version,
                details={
                    "sweep_id": report.sweep_id,
                    "error": type(exc).__name__,
                    "counts": report.counts,
                    "batches": report.batches,
                },
                now=now,
            )
    except Exception as again:  # the store itself may be what failed: the next sweep finds it
        log.warning(
            "retention sweep %s: its failure could not be recorded (%s)",
            report.sweep_id,
            type(again).__name__,
        )


def _run(
    sessions: sessionmaker[Session],
    policy: Policy,
    now: datetime,
    report: SweepReport,
    batch_size: int,
    progress: Progress | None,
    datasets: Connected | None,
    keyring: Keyring | None,
) -> None:
    with sessions() as session:
        total = _count_due(session, policy, now)
    done = 0
    if progress is not None:
        progress(done, total)
    for rule in policy.declaration.retention:
        while True:
            acted = _batch(sessions, rule.key, rule.action, now, batch_size, report)
            if not acted:
                break
            report.batches += 1
            done += acted
            if progress is not None:
                progress(done, max(total, done))
            if acted < batch_size:
                break
    if datasets is not None:
        if keyring is None:
            raise ValueError("sweeping company databases needs the keyring")
        from .datasets import sweep_datasets

        with sessions() as session:
            sweep_datasets(
                session,
                policy,
                keyring,
                datasets,
                now,
                report,
                batch_size=batch_size,
                progress=progress,
            )
