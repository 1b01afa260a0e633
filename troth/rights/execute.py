"""Carrying out an approved request, as a job whose steps each happen once (P10–P13, P19, P23).

:func:`execute_request` is the handler of ``rights.execute`` jobs. It runs the request's steps in
order, each in its own transaction that also records the step as done (``rights_request_steps``,
unique per request and step). A worker that dies, or a step that raises, leaves the job to be
claimed again; the next run skips every step already recorded, so nothing is applied twice.

What each kind does:

* access, portability: build the export (troth.rights.bundle) from the vault and every connected
  company database, store it encrypted, email a link.

Work on a company database runs before the step's own transaction in troth's store (so troth's
store is never locked while a company database works), in a transaction of its own that
commits before the step is recorded. A worker that dies between the two repeats the work, which
changes nothing the second time (troth.datasets.run).
* correction: replace the vault values of the proposed categories (re-encrypted under the
  subject's key), with a recipient task for each declared recipient of those categories.
* erasure (and account closure, P19): erase the subject in each connected company database
  (troth.datasets: per dataset, a step that counts what will be erased and kept, recorded first,
  then the erasure, masking or deleting what its dataset file declares and
  keeping what a legal retention rule holds); delete every vault item not held by a retention
  rule with a legal basis; restrict the subject when something is kept; tell the requester what
  was kept and why; then delete the identities, and destroy the subject's key when nothing is
  kept.
* restriction: raise the consent ledger's restriction signal; objection: an objection to every
  marketing purpose (absolute for direct marketing); opt_out_marketing: withdraw consent to the
  marketing purposes; withdraw_consent: withdraw every consent given; stop_tracking: the Global
  Privacy Control opt-out signal and a withdrawal for every analytics and advertising purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor
from troth.consent import ActedBy, Method, SignalKind, record_signal, withdraw
from troth.datasets import Connected, fides_identities, jsonable
from troth.declaration import Policy
from troth.declaration.taxonomy import is_under
from troth.jobs import Handler
from troth.retention.datasets import scoped_holds
from troth.retention.holds import active_holds
from troth.store import write_scope
from troth.subjects import Keyring, encrypt
from troth.subjects.models import Identity, Subject
from troth.subjects.registry import data_key, get_subject, identities_of, merged_ids
from troth.vault import SubjectEvent, VaultItem, shred_subject
from troth.vault.collect import item_associated_data

from .bundle import BUNDLE_TTL, build_bundle, collect_data, download_link
from .links import status_link
from .models import RecipientTask, RequestStep, RightsRequest
from .plan import LEGAL_HOLD, plan_request, proposed_values
from .requests import EXECUTE_JOB, get_request, mail_requester, move, note
from .sealed import seal_bytes
from .states import RequestKind, RequestState

EXECUTOR = Actor.system("troth.rights.execute")
_FINISH = ["notify", "complete"]
STEPS: dict[RequestKind, list[str]] = {
    RequestKind.access: ["start", "bundle", *_FINISH],
    RequestKind.portability: ["start", "bundle", *_FINISH],
    RequestKind.correction: ["start", "recipient_tasks", "correct", *_FINISH],
    RequestKind.erasure: [
        "start",
        "recipient_tasks",
        "erase_datasets",
        "erase_items",
        "restrict_held",
        "notify",
        "erase_identities",
        "complete",
    ],
    RequestKind.restriction: ["start", "recipient_tasks", "restrict", *_FINISH],
    RequestKind.objection: ["start", "object", *_FINISH],
    RequestKind.opt_out_marketing: ["start", "opt_out", *_FINISH],
    RequestKind.withdraw_consent: ["start", "withdraw", *_FINISH],
    RequestKind.stop_tracking: ["start", "stop_tracking", *_FINISH],
}


# Expanded to steps per connected dataset: "plan_dataset:<key>", "erase_dataset:<key>".
DATASET_STEPS = {"erase_datasets": ("plan_dataset", "erase_dataset")}


@dataclass(frozen=True)
class StepContext:
    session: Session
    policy: Policy
    keyring: Keyring
    request: RightsRequest
    now: datetime
    base_url: str
    # what the step's preparation (outside the transaction) returned, if it has one
    prepared: Any = None


Step = Callable[[StepContext], None]


def _outcome(ctx: StepContext, **facts: Any) -> None:
    ctx.request.outcome = dict(ctx.request.outcome or {}) | facts


def _start(ctx: StepContext) -> None:
    move(
        ctx.session,
        ctx.request,
        RequestState.executing,
        "execution_started",
        now=ctx.now,
        actor=EXECUTOR,
    )


def _complete(ctx: StepContext) -> None:
    move(
        ctx.session,
        ctx.request,
        RequestState.completed,
        "request_completed",
        now=ctx.now,
        actor=EXECUTOR,
        details={"outcome": ctx.request.outcome or {}},
    )


def _bundle(ctx: StepContext) -> None:
    data = collect_data(ctx.session, ctx.policy, ctx.keyring, ctx.request.subject_id, ctx.now)
    data["datasets"] = ctx.prepared or {}
    content = build_bundle(ctx.policy, data)
    r = ctx.request
    r.bundle = seal_bytes(ctx.session, ctx.keyring, r.subject_id, r.id, "bundle", content)
    r.bundle_expires_at = ctx.now + BUNDLE_TTL
    rows = sum(len(r) for found in data["datasets"].values() for r in found.values())
    _outcome(ctx, items=len(data["items"]), identities=len(data["identities"]), dataset_rows=rows)
    note(
        ctx.session,
        r,
        "bundle_prepared",
        now=ctx.now,
        actor=EXECUTOR,
        details={
            "items": len(data["items"]),
            "dataset_rows": rows,
            "expires_at": r.bundle_expires_at.isoformat(),
        },
    )


def _recipient_tasks(ctx: StepContext) -> None:
    plan = plan_request(ctx.session, ctx.policy, ctx.keyring, ctx.request, ctx.now)
    for notice in plan.recipients:
        ctx.session.add(
            RecipientTask(
                request_id=ctx.request.id,
                recipient=notice.recipient,
                categories=list(notice.categories),
                state="open",
                created_at=ctx.now,
            )
        )
    _outcome(ctx, recipients=[n.recipient for n in plan.recipients])
    note(
        ctx.session,
        ctx.request,
        "recipient_tasks_opened",
        now=ctx.now,
        actor=EXECUTOR,
        details={"recipients": [n.recipient for n in plan.recipients]},
    )


def _correct(ctx: StepContext) -> None:
    values = proposed_values(ctx.session, ctx.keyring, ctx.request)
    corrected: dict[str, int] = {}
    subject_ids = merged_ids(ctx.session, get_subject(ctx.session, ctx.request.subject_id).id)
    for item in ctx.session.scalars(
        select(VaultItem).where(
            VaultItem.subject_id.in_(subject_ids), VaultItem.category.in_(sorted(values))
        )
    ):
        # The item's own subject row's key, not the one it was merged into: that is the key
        # it was written under and that items_of reads it with.
        owner = ctx.session.get(Subject, item.subject_id)
        assert owner is not None  # a foreign key
        key = data_key(ctx.keyring, owner)
        item.ciphertext = encrypt(
            key,
            values[item.category].encode(),
            item_associated_data(item.subject_id, item.submission_id, item.position, item.category),
        )
        corrected[item.category] = corrected.get(item.category, 0) + 1
    _outcome(ctx, corrected=corrected)
    note(
        ctx.session,
        ctx.request,
        "correction_applied",
        now=ctx.now,
        actor=EXECUTOR,
        details={"corrected": corrected},
    )


def erase_held_apart(
    session: Session, policy: Policy, keyring: Keyring, request: RightsRequest, now: datetime
) -> dict[str, Any]:
    """Delete the subject's vault items that no legal rule holds; return what was erased (counts
    per category) and what was kept and why. Running it again erases nothing more."""
    plan = plan_request(session, policy, keyring, request, now)
    erase_ids = [item.id for item in plan.erase]
    for start in range(0, len(erase_ids), 500):
        session.execute(delete(VaultItem).where(VaultItem.id.in_(erase_ids[start : start + 500])))
    erased: dict[str, int] = {}
    for item in plan.erase:
        erased[item.category] = erased.get(item.category, 0) + 1
    return {"erased": erased, "kept": [k.as_json() for k in plan.keep]}


def _erase_items(ctx: StepContext) -> None:
    result = erase_held_apart(ctx.session, ctx.policy, ctx.keyring, ctx.request, ctx.now)
    _outcome(ctx, **result)
    note(
        ctx.session,
        ctx.request,
        "items_erased",
        now=ctx.now,
        actor=EXECUTOR,
        details={"erased": result["erased"], "kept": len(result["kept"])},
    )


def _plan_dataset(ctx: StepContext) -> None:
    # Recorded before the erasure: a repeated erasure finds nothing left to count, and the
    # request must still report what was erased and kept.
    key, planned = ctx.prepared
    outcome = ctx.request.outcome or {}
    _outcome(ctx, datasets={**outcome.get("datasets", {}), key: planned})


def _erase_dataset(ctx: StepContext) -> None:
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


def _kept_in_datasets(request: RightsRequest) -> list[tuple[str, dict[str, Any]]]:
    found = (request.outcome or {}).get("datasets", {})
    return [(key, kept) for key, erasure in found.items() for kept in erasure["kept"]]


def _restrict_held(ctx: StepContext) -> None:
    if (ctx.request.outcome or {}).get("kept") or _kept_in_datasets(ctx.request):
        _signal(ctx, SignalKind.restriction)


def _erase_identities(ctx: StepContext) -> None:
    subject = get_subject(ctx.session, ctx.request.subject_id)
    if (ctx.request.outcome or {}).get("kept"):
        # Held items stay readable under the key; nothing else leads back to the person.
        ids = merged_ids(ctx.session, subject.id)
        ctx.session.execute(delete(Identity).where(Identity.subject_id.in_(ids)))
        _outcome(ctx, key_destroyed=False)
    else:
        ids = merged_ids(ctx.session, subject.id)
        ctx.session.execute(delete(SubjectEvent).where(SubjectEvent.subject_id.in_(ids)))
        shred_subject(
            ctx.session,
            subject.id,
            now=ctx.now,
            actor=EXECUTOR,
            policy_version=ctx.request.policy_version,
        )
        _outcome(ctx, key_destroyed=True)
    note(
        ctx.session,
        ctx.request,
        "identities_erased",
        now=ctx.now,
        actor=EXECUTOR,
        details={"key_destroyed": (ctx.request.outcome or {})["key_destroyed"]},
    )


def _acted_by(request: RightsRequest) -> ActedBy:
    return ActedBy.subject if request.acting_as == "self" else ActedBy(request.acting_as)


def _signal(ctx: StepContext, kind: SignalKind, purpose: str | None = None) -> None:
    record_signal(
        ctx.session,
        ctx.policy,
        ctx.request.subject_id,
        kind,
        purpose=purpose,
        method=Method.staff,
        actor=EXECUTOR,
        now=ctx.now,
    )


def purposes_under(policy: Policy, *uses: str) -> list[str]:
    return [
        p.key for p in policy.declaration.purposes if any(is_under(p.data_use, u) for u in uses)
    ]


def _withdraw(ctx: StepContext, purposes: list[str]) -> None:
    withdraw(
        ctx.session,
        ctx.policy,
        ctx.request.subject_id,
        purposes,
        method=Method.staff,
        actor=EXECUTOR,
        now=ctx.now,
        acted_by=_acted_by(ctx.request),
    )


def _restrict(ctx: StepContext) -> None:
    _signal(ctx, SignalKind.restriction)


def _object(ctx: StepContext) -> None:
    marketing = purposes_under(ctx.policy, "marketing")
    for purpose in marketing:
        _signal(ctx, SignalKind.objection, purpose)
    _outcome(ctx, objected=marketing)


def _opt_out(ctx: StepContext) -> None:
    marketing = purposes_under(ctx.policy, "marketing")
    if marketing:
        _withdraw(ctx, marketing)
    _outcome(ctx, withdrawn=marketing)


def _withdraw_all(ctx: StepContext) -> None:
    _withdraw(ctx, [])  # every purpose with consent given
    _outcome(ctx, withdrawn="all given")


def _stop_tracking(ctx: StepContext) -> None:
    _signal(ctx, SignalKind.gpc_opt_out)
    tracking = purposes_under(ctx.policy, "analytics", "marketing.advertising")
    if tracking:
        _withdraw(ctx, tracking)
    _outcome(ctx, withdrawn=tracking)


def _notify(ctx: StepContext) -> None:
    r = ctx.request
    context: dict[str, Any] = {
        "download_url": None,
        "download_expires": None,
        "kept": [],
        "status_url": status_link(ctx.keyring, ctx.base_url, r.id, ctx.now),
    }
    if r.bundle_expires_at is not None:
        context["download_url"] = download_link(
            ctx.keyring, ctx.base_url, r.id, r.bundle_expires_at
        )
        context["download_expires"] = r.bundle_expires_at.date().isoformat()
    for kept in (r.outcome or {}).get("kept", []):
        until = (
            kept["retain_until"][:10] if kept["retain_until"] else f"after {kept['waiting_for']}"
        )
        context["kept"].append(
            f"{kept['category']}: {kept['rule_name']} ({kept['reason'] or kept['legal_basis']}),"
            f" until {until}"
        )
    for key, kept in _kept_in_datasets(r):
        if kept["rule"] == LEGAL_HOLD:
            if kept["collection"] == "*":
                where = f"everything in {key}"
            elif kept["field"] == "*":
                where = f"everything in {key}.{kept['collection']}"
            else:
                where = f"{kept['collection']}.{kept['field']} ({key})"
            context["kept"].append(f"{where}: a legal hold suspends its deletion")
            continue
        rule = ctx.policy.retention_rules.get(kept["rule"])
        name = rule.name if rule is not None else kept["rule"]
        why = (rule.reason or rule.legal_basis) if rule is not None else None
        context["kept"].append(
            f"{kept['collection']}.{kept['field']} ({key}): {name}"
            + (f" ({why})" if why else "")
            + f", {kept['rows']} record{'s' if kept['rows'] != 1 else ''}"
        )
    # An erasure's confirmation must outlive the subject's key, destroyed in the next step.
    mail_requester(
        ctx.session,
        ctx.policy,
        ctx.keyring,
        r,
        "rights_completed",
        now=ctx.now,
        actor=EXECUTOR,
        context=context,
        under_subject_key=r.kind != RequestKind.erasure,
    )


STEP_FUNCTIONS: dict[str, Step] = {
    "start": _start,
    "bundle": _bundle,
    "recipient_tasks": _recipient_tasks,
    "correct": _correct,
    "plan_dataset": _plan_dataset,
    "erase_dataset": _erase_dataset,
    "erase_items": _erase_items,
    "restrict_held": _restrict_held,
    "erase_identities": _erase_identities,
    "restrict": _restrict,
    "object": _object,
    "opt_out": _opt_out,
    "withdraw": _withdraw_all,
    "stop_tracking": _stop_tracking,
    "notify": _notify,
    "complete": _complete,
}


def steps_done(session: Session, request_id: str) -> list[str]:
    return list(
        session.scalars(
            select(RequestStep.step)
            .where(RequestStep.request_id == request_id)
            .order_by(RequestStep.id)
        )
    )


def dataset_identities(session: Session, keyring: Keyring, subject_id: str) -> dict[str, list[str]]:
    """The subject's identities under the names datasets query by (``email``, ``phone_number``)."""
    found = identities_of(session, keyring, subject_id)
    return fides_identities((identity.kind.value, identity.value) for identity in found)


def _prepare(
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
        rows: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for name in datasets.keys:
            target = datasets.target(name)
            with target.engine.connect() as conn:
                found = target.access(conn, identities)
            rows[name] = {
                collection: [{k: jsonable(v) for k, v in row.items()} for row in found_rows]
                for collection, found_rows in found.items()
            }
        return rows
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


def _dataset_hold(session: Session, subject_id: str, key: str, now: datetime) -> str | None:
    """The id of a legal hold in force on the subject or on dataset ``key`` as a whole."""
    subjects = set(merged_ids(session, subject_id))
    for hold in active_holds(session, now):
        if (hold.scope == "subject" and hold.target in subjects) or (
            hold.scope == "dataset" and hold.target == key
        ):
            return hold.id
    return None


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


def execute_request(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    request_id: str,
    now: datetime,
    *,
    base_url: str = "",
    datasets: Connected | None = None,
) -> list[str]:
    """Run the steps of an approved request not yet done; returns the steps run this time."""
    ran: list[str] = []
    with sessions() as session:
        kind = RequestKind(get_request(session, request_id).kind)
        done = set(steps_done(session, request_id))
    for step in request_steps(kind, datasets):
        if step in done:
            continue
        prepared = _prepare(step, sessions, keyring, request_id, now, datasets)
        with write_scope(sessions) as session:
            recorded = session.scalar(
                select(RequestStep.id).where(
                    RequestStep.request_id == request_id, RequestStep.step == step
                )
            )
            if recorded is not None:
                continue
            request = get_request(session, request_id)
            context = StepContext(session, policy, keyring, request, now, base_url, prepared)
            STEP_FUNCTIONS[step.partition(":")[0]](context)
            session.add(RequestStep(request_id=request_id, step=step, done_at=now))
        ran.append(step)
    return ran


def rights_handlers(
    policy: Policy, keyring: Keyring, base_url: str = "", datasets: Connected | None = None
) -> dict[str, Handler]:
    """The job handlers of this package, for ``troth worker`` and ``troth serve``."""

    def run(sessions: sessionmaker[Session], payload: Mapping[str, Any], now: datetime) -> None:
        execute_request(
            sessions,
            policy,
            keyring,
            str(payload["request_id"]),
            now,
            base_url=base_url,
            datasets=datasets,
        )

    return {EXECUTE_JOB: run}
