"""Retention in the company's own databases, beside the vault's (P17–P20).

troth.datasets.sweep does the work inside one company database, and troth.datasets.review counts
it for the plan and the review; this module hands them what only troth's store knows: the legal
holds in force (a subject's hold becomes that subject's identities, read from the vault's
encrypted identities), the key of the keyed hash, and where the results go (the sweep's report and
audit event, the plan, the review report), each row under the source ``dataset:<key>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from troth.datasets import Connected, fides_identities
from troth.datasets.holds import Holds
from troth.datasets.review import plan_dataset, review_rows
from troth.datasets.sweep import sweep_dataset
from troth.declaration import Policy
from troth.subjects import Keyring
from troth.subjects.registry import ShreddedSubject, identities_of

from .holds import active_holds
from .models import LegalHold
from .plan import PlanRow, RetentionPlan
from .report import Report, _row
from .sweep import Progress, SweepReport


def source_of(key: str) -> str:
    return f"dataset:{key}"


def dataset_identities(session: Session, keyring: Keyring, subject_id: str) -> dict[str, list[str]]:
    """The subject's identities under the names datasets query by (``email``, ``phone_number``).
    Raises ShreddedSubject when the subject's key was destroyed."""
    found = identities_of(session, keyring, subject_id)
    return fides_identities((identity.kind.value, identity.value) for identity in found)


def dataset_holds(
    session: Session, keyring: Keyring, holds: Sequence[LegalHold], dataset_key: str
) -> Holds:
    """The holds in force as a sweep of dataset ``dataset_key`` applies them."""
    identities: dict[str, list[str]] = {}
    for hold in holds:
        if hold.scope != "subject":
            continue
        try:
            found = dataset_identities(session, keyring, hold.target)
        except ShreddedSubject:
            continue  # nothing left that could find the subject's rows
        for name, values in found.items():
            identities.setdefault(name, []).extend(values)
    return replace(scoped_holds(holds, dataset_key), identities=identities)


def scoped_holds(holds: Sequence[LegalHold], dataset_key: str) -> Holds:
    """The holds on categories, clients and dataset ``dataset_key`` (or its collections), without
    the subjects' identities: what a rights erasure applies inside the dataset, where a hold on
    its own subject has already stopped it."""
    return Holds(
        categories=frozenset(h.target for h in holds if h.scope == "category"),
        datasets=frozenset(
            h.target
            for h in holds
            if h.scope == "dataset" and h.target.partition(".")[0] == dataset_key
        ),
        clients=frozenset(h.target for h in holds if h.scope == "client"),
    )


def sweep_datasets(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    datasets: Connected,
    now: datetime,
    report: SweepReport,
    *,
    batch_size: int,
    progress: Progress | None = None,
) -> None:
    """Sweep every connected dataset, adding its counts to ``report``. ``session`` only reads
    the holds; each dataset's batches commit in its own database."""
    holds = active_holds(session, now)
    for key in datasets.keys:
        target = datasets.target(key)
        counts = sweep_dataset(
            target,
            policy,
            now,
            dataset_holds(session, keyring, holds, key),
            hash_key=keyring.current.dataset_hash_key(),
            seal=keyring.seal_isolated,
            batch_size=batch_size,
            progress=progress,
        )
        source = source_of(key)
        for rule, actions in counts.rules.items():
            for action, rows in actions.items():
                if action == "held":
                    held = report.held.setdefault(source, {})
                    held[rule] = held.get(rule, 0) + rows
                else:
                    report.add(source, rule, action, rows)
        if counts.skipped:
            report.skipped[source] = [s.as_json() for s in counts.skipped]


def plan_datasets(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    datasets: Connected,
    plan: RetentionPlan,
) -> None:
    """Add each connected dataset's rows to ``plan`` (rows kept by holds are left out)."""
    holds = active_holds(session, plan.now)
    for key in datasets.keys:
        counts = plan_dataset(
            datasets.target(key), policy, plan.now, dataset_holds(session, keyring, holds, key)
        )
        for rule_key, numbers in counts.items():
            rule = policy.retention_rules.get(rule_key)
            plan.rows.append(
                PlanRow(
                    source=source_of(key),
                    rule=rule_key,
                    name=rule.name if rule is not None else rule_key,
                    action=rule.action if rule is not None else "",
                    due_now=numbers[0],
                    held_now=0,
                    by_month=tuple(numbers[1:]),
                    held_by_month=(0,) * len(numbers[1:]),
                )
            )


def review_datasets(policy: Policy, datasets: Connected, report: Report) -> None:
    """Add each connected dataset's rows to the review report, one row per rule."""
    for key in datasets.keys:
        for rule_key, review in review_rows(datasets.target(key), policy, report.now).items():
            row = _row(policy, rule_key)
            row.source = source_of(key)
            row.items = review.rows
            row.isolated = review.isolated
            row.waiting = review.unstarted
            row.oldest = review.oldest
            dataset = datasets.datasets[key]
            row.categories = sorted(
                {
                    category
                    for collection in dataset.collections
                    for f in collection.personal
                    if f.retention == rule_key
                    for category in f.categories
                }
            )
            report.rows.append(row)
