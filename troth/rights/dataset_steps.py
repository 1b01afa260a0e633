"""The part of a rights request carried out inside the company's own databases (P10, P12, P19,
P20).

When troth runs with ``--datasets``, each connected dataset file (troth.datasets) describes a
company database that a request reaches too. An access or portability request exports the rows
each dataset finds for the person; an erasure (and an account closure) erases the person there
before the vault.

**Two steps per dataset.** For an erasure, :func:`request_steps` turns the ``erase_datasets``
entry of the request's steps into ``plan_dataset:KEY`` then ``erase_dataset:KEY`` for each
connected dataset. The plan step counts, without changing anything, the rows to mask and to
delete per table and the fields a retention rule or a legal hold keeps, and records those counts
in the request's outcome. It comes first because the counts must be taken before the erasure:
once the rows are masked, nothing is left to count, and the request must still report what was
erased and kept. The erase step then applies the erasure and writes its timeline entry from the
recorded counts.

**Company-database work is done first, outside troth's transaction.** :func:`prepare` does the
work of such a step (reading the rows for the export, counting, erasing) before the step's own
transaction in troth's store opens, so troth's store is never locked while a company database
works. The erasure runs in a transaction of the company database that commits before troth
records the step as done. The step function that follows (:func:`plan_dataset`,
:func:`erase_dataset`, or the export step in troth.rights.execute) works only in troth's store,
with what :func:`prepare` returned, in the same transaction that records the step.

**Legal holds (P20).** A hold on the subject (or on a subject merged into it) or on the whole
dataset suspends the dataset's erasure: nothing is counted or erased there, and the request
reports everything in the dataset as kept under the rule ``legal_hold``. Holds on a category or
on one of the dataset's collections are handed to the dataset's own plan and erasure, which keep
what they cover (a held collection is not written; a field of a held category is kept in every
row) and report it under the same rule.

**A repeated erasure changes nothing.** A worker can die after the company database committed
but before troth recorded the step; the next run does the erasure again. By then the rows it
deleted are gone and the values it masked hold their masked form (a fixed value, or a keyed hash
that is recognised and not hashed twice), so the second run finds nothing more to change. The
request's report is unaffected too: it comes from the counts the plan step recorded before the
first erasure.

The lines of the requester's confirmation that say what the datasets kept and why are phrased
here (:func:`kept_in_datasets_lines`), and so is the count of the rows an export found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from troth.datasets import Connected, isolation, jsonable
from troth.datasets.run import LEGAL_HOLD
from troth.declaration import Policy
from troth.retention.datasets import dataset_identities, scoped_holds
from troth.retention.holds import active_holds
from troth.subjects import Keyring
from troth.subjects.registry import merged_ids

from .models import RightsRequest
from .requests import get_request, note
from .states import RequestKind
from .steps import EXECUTOR, STEPS, StepContext, add_outcome

# the column an exported row of a company table gets when values were isolated from that table
ISOLATED_AT = "troth_isolated_at"

# Expanded to steps per connected dataset: "plan_dataset:<key>", "erase_dataset:<key>".
DATASET_STEPS = {"erase_datasets": ("plan_dataset", "erase_dataset")}

# The rows an export found: per dataset, per collection, the rows as JSON values.
DatasetRows = dict[str, dict[str, list[dict[str, Any]]]]


def request_steps(kind: RequestKind, datasets: Connected | None) -> list[str]:
    """The steps of a request of ``kind``, with one step per connected dataset where due."""
    steps: list[str] = []
    for step in STEPS[kind]:
        if step in DATASET_STEPS:
            for key in datasets.keys if datasets else []:
                steps += [f"{name}:{key}" for name in DATASET_STEPS[step]]
        else:
            steps.append(step)
    return steps


def prepare(
    step: str,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    request_id: str,
    now: datetime,
    datasets: Connected | None,
) -> Any:
    """The work of ``step`` on company databases, done and committed before the step's own
    transaction; None for a step that has none."""
    base, _, key = step.partition(":")
    if datasets is None or base not in ("bundle", "plan_dataset", "erase_dataset"):
        return None
    with sessions() as session:
        subject_id = get_request(session, request_id).subject_id
        identities = dataset_identities(session, keyring, subject_id)
    if base == "bundle":
        return _access_rows(datasets, identities, keyring)
    with sessions() as session:
        hold = _dataset_hold(session, subject_id, key, now)
        # Holds on a category or on one of the dataset's collections keep what they cover.
        scoped = scoped_holds(active_holds(session, now), key)
    if hold is not None:
        # A legal hold on the subject or on the whole dataset suspends its erasure (P20).
        kept = {"collection": "*", "field": "*", "rule": LEGAL_HOLD, "rows": 0, "hold": hold}
        return (
            (key, {"masked": {}, "deleted": {}, "kept": [kept]}) if base == "plan_dataset" else key
        )
    target = datasets.target(key)
    if base == "plan_dataset":
        with target.engine.connect() as conn:
            return key, target.plan(conn, identities, now=now, holds=scoped).as_json()
    with target.engine.begin() as conn:
        hash_key = keyring.current.dataset_hash_key()
        target.erase(conn, identities, now=now, hash_key=hash_key, report=False, holds=scoped)
    return key


def _access_rows(
    datasets: Connected, identities: dict[str, list[str]], keyring: Keyring
) -> DatasetRows:
    """Every row each connected dataset finds for ``identities``, for the export. Values a
    retention rule isolated from a row (troth_isolated) are put back in it, and every row of
    such a table says when (``troth_isolated_at``, empty for the others): isolation keeps them
    from staff, not from the person they are about (P10)."""
    rows: DatasetRows = {}
    for name in datasets.keys:
        target = datasets.target(name)
        with target.engine.connect() as conn:
            found = target.access(conn, identities)
            keys = {
                collection: [tuple(row[f] for f in pk) for row in found_rows]
                for collection, found_rows in found.items()
                if found_rows and (pk := target.dataset.collection(collection).primary_key)
            }
            isolated = isolation.read(conn, target.dataset, keys, open_=keyring.open_isolated)
        back: dict[tuple[str, tuple[Any, ...]], dict[str, Any]] = {}
        for record in isolated:  # oldest first: a later isolation of the same row wins
            values = {**record.values, ISOLATED_AT: record.isolated_at}
            back.setdefault((record.collection, record.row_key), {}).update(values)
        marked = {record.collection for record in isolated}
        exported: dict[str, list[dict[str, Any]]] = {}
        for collection, found_rows in found.items():
            pk = target.dataset.collection(collection).primary_key
            out = []
            for row in found_rows:
                row = dict(row)
                if collection in marked:
                    row[ISOLATED_AT] = None
                    row.update(back.get((collection, tuple(row[f] for f in pk)), {}))
                out.append({k: jsonable(v) for k, v in row.items()})
            exported[collection] = out
        rows[name] = exported
    return rows


def _dataset_hold(session: Session, subject_id: str, key: str, now: datetime) -> str | None:
    """The id of a legal hold in force on the subject or on dataset ``key`` as a whole."""
    subjects = set(merged_ids(session, subject_id))
    for hold in active_holds(session, now):
        if (hold.scope == "subject" and hold.target in subjects) or (
            hold.scope == "dataset" and hold.target == key
        ):
            return hold.id
    return None


def plan_dataset(ctx: StepContext) -> None:
    # Recorded before the erasure: a repeated erasure finds nothing left to count, and the
    # request must still report what was erased and kept.
    key, planned = ctx.prepared
    outcome = ctx.request.outcome or {}
    add_outcome(ctx, datasets={**outcome.get("datasets", {}), key: planned})


def erase_dataset(ctx: StepContext) -> None:
    key = ctx.prepared
    planned = (ctx.request.outcome or {})["datasets"][key]
    note(
        ctx.session,
        ctx.request,
        "dataset_erased",
        now=ctx.now,
        actor=EXECUTOR,
        details={
            "dataset": key,
            "masked": planned["masked"],
            "deleted": planned["deleted"],
            "kept": len(planned["kept"]),
            "isolated": planned.get("isolated", {}),
        },
    )


def count_rows(found: DatasetRows) -> int:
    """How many rows an export found across every dataset and collection."""
    return sum(len(rows) for collections in found.values() for rows in collections.values())


def kept_in_datasets(request: RightsRequest) -> list[tuple[str, dict[str, Any]]]:
    """What the request's dataset erasures kept: (dataset key, kept field) pairs."""
    found = (request.outcome or {}).get("datasets", {})
    return [(key, kept) for key, erasure in found.items() for kept in erasure["kept"]]


def kept_in_datasets_lines(policy: Policy, request: RightsRequest) -> list[str]:
    """What the datasets kept and why, one line each, for the requester's confirmation."""
    lines: list[str] = []
    for key, kept in kept_in_datasets(request):
        if kept["rule"] == LEGAL_HOLD:
            if kept["collection"] == "*":
                where = f"everything in {key}"
            elif kept["field"] == "*":
                where = f"everything in {key}.{kept['collection']}"
            else:
                where = f"{kept['collection']}.{kept['field']} ({key})"
            lines.append(f"{where}: a legal hold suspends its deletion")
            continue
        rule = policy.retention_rules.get(kept["rule"])
        name = rule.name if rule is not None else kept["rule"]
        why = (rule.reason or rule.legal_basis) if rule is not None else None
        lines.append(
            f"{kept['collection']}.{kept['field']} ({key}): {name}"
            + (f" ({why})" if why else "")
            + f", {kept['rows']} record{'s' if kept['rows'] != 1 else ''}"
        )
    return lines
