"""Carrying out an approved request, as a job whose steps each happen once (P10–P13, P19, P23).

:func:`execute_request` is the handler of ``rights.execute`` jobs. It runs the request's steps in
order, each in its own transaction that also records the step as done (``rights_request_steps``,
unique per request and step). A worker that dies, or a step that raises, leaves the job to be
claimed again; the next run skips every step already recorded, so nothing is applied twice.

The steps that work inside the company's own databases, and the work they do there before their
own transaction, are in troth.rights.dataset_steps; what every step shares (the steps of each
kind, the context a step is handed) is in troth.rights.steps. This module holds the steps over
troth's own store and :data:`STEP_FUNCTIONS`, which names every step's function.

What each kind does:

* access, portability: build the export (troth.rights.bundle) from the vault and every connected
  company database, store it encrypted, email a link.
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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from troth.consent import ActedBy, Method, SignalKind, record_signal, withdraw
from troth.datasets import Connected
from troth.declaration import Policy
from troth.declaration.taxonomy import is_under
from troth.jobs import Handler
from troth.store import write_scope
from troth.subjects import Keyring, encrypt
from troth.subjects.models import Identity, Subject
from troth.subjects.registry import data_key, get_subject, merged_ids
from troth.vault import SubjectEvent, VaultItem, shred_subject
from troth.vault.collect import item_associated_data

from .bundle import BUNDLE_TTL, build_bundle, collect_data, download_link
from .dataset_steps import (
    count_rows,
    erase_dataset,
    kept_in_datasets,
    kept_in_datasets_lines,
    plan_dataset,
    prepare,
    request_steps,
)
from .links import status_link
from .models import RecipientTask, RequestStep, RightsRequest
from .plan import plan_request, proposed_values
from .requests import EXECUTE_JOB, get_request, mail_requester, move, note
from .sealed import seal_bytes
from .states import RequestKind, RequestState
from .steps import EXECUTOR, Step, StepContext, add_outcome


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
    rows = count_rows(data["datasets"])
    add_outcome(
        ctx, items=len(data["items"]), identities=len(data["identities"]), dataset_rows=rows
    )
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
    add_outcome(ctx, recipients=[n.recipient for n in plan.recipients])
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
    add_outcome(ctx, corrected=corrected)
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
    add_outcome(ctx, **result)
    note(
        ctx.session,
        ctx.request,
        "items_erased",
        now=ctx.now,
        actor=EXECUTOR,
        details={"erased": result["erased"], "kept": len(result["kept"])},
    )


def _restrict_held(ctx: StepContext) -> None:
    if (ctx.request.outcome or {}).get("kept") or kept_in_datasets(ctx.request):
        _signal(ctx, SignalKind.restriction)


def _erase_identities(ctx: StepContext) -> None:
    subject = get_subject(ctx.session, ctx.request.subject_id)
    if (ctx.request.outcome or {}).get("kept"):
        # Held items stay readable under the key; nothing else leads back to the person.
        ids = merged_ids(ctx.session, subject.id)
        ctx.session.execute(delete(Identity).where(Identity.subject_id.in_(ids)))
        add_outcome(ctx, key_destroyed=False)
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
        add_outcome(ctx, key_destroyed=True)
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
    add_outcome(ctx, objected=marketing)


def _opt_out(ctx: StepContext) -> None:
    marketing = purposes_under(ctx.policy, "marketing")
    if marketing:
        _withdraw(ctx, marketing)
    add_outcome(ctx, withdrawn=marketing)


def _withdraw_all(ctx: StepContext) -> None:
    _withdraw(ctx, [])  # every purpose with consent given
    add_outcome(ctx, withdrawn="all given")


def _stop_tracking(ctx: StepContext) -> None:
    _signal(ctx, SignalKind.gpc_opt_out)
    tracking = purposes_under(ctx.policy, "analytics", "marketing.advertising")
    if tracking:
        _withdraw(ctx, tracking)
    add_outcome(ctx, withdrawn=tracking)


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
    context["kept"] += kept_in_datasets_lines(ctx.policy, r)
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
    "plan_dataset": plan_dataset,
    "erase_dataset": erase_dataset,
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
        prepared = prepare(step, sessions, keyring, request_id, now, datasets)
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
