"""Taking a rights request in and moving it through its states (P10–P15).

:func:`create_request` resolves the subject by email identity, computes the deadlines
(troth.rights.clocks), stores who asked encrypted under the subject's key, and acknowledges the
request by email at once. The request then waits in ``received`` until the caller says how the
requester was verified (:func:`mark_verified`: the privacy center checks an emailed code, an
integration its own login). Staff take it into review, approve it (which queues its execution
as a job) or deny it with a reason. Every move is checked by the state machine
(troth.rights.states), written to the request's timeline, and audited as ``rights.*`` in the
same transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Policy
from troth.jobs import enqueue_job
from troth.notify import enqueue
from troth.subjects import IdentityError, IdentityKind, Keyring, normalise
from troth.subjects.registry import resolve_subject

from .clocks import UnknownJurisdiction, deadlines
from .models import RequestTimelineEntry, RightsRequest
from .sealed import seal, unseal
from .states import ActingAs, RequestKind, RequestState, check_transition

EXECUTE_JOB = "rights.execute"
MAX_VALUE = 10_000
MAX_RELATIONSHIP = 200
_METHOD = re.compile(r"[a-z][a-z0-9_]{0,39}")

KIND_LABELS = {
    "access": "access to your data",
    "correction": "correction of your data",
    "erasure": "erasure of your data",
    "portability": "a copy of your data to take elsewhere",
    "restriction": "restriction of processing",
    "objection": "objection to processing",
    "opt_out_marketing": "opting out of marketing",
    "withdraw_consent": "withdrawal of consent",
    "stop_tracking": "stopping tracking",
}


class RequestInputError(ValueError):
    """A request that cannot be taken as given; names the field, never its value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownRequest(LookupError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"no rights request with id {request_id!r}")
        self.request_id = request_id


def get_request(session: Session, request_id: str) -> RightsRequest:
    request = session.get(RightsRequest, request_id)
    if request is None:
        raise UnknownRequest(request_id)
    return request


def timeline(session: Session, request_id: str) -> list[RequestTimelineEntry]:
    """The request's timeline, oldest first."""
    return list(
        session.scalars(
            select(RequestTimelineEntry)
            .where(RequestTimelineEntry.request_id == request_id)
            .order_by(RequestTimelineEntry.at, RequestTimelineEntry.id)
        )
    )


def note(
    session: Session,
    request: RightsRequest,
    action: str,
    *,
    now: datetime,
    actor: Actor,
    details: Mapping[str, Any] | None = None,
    from_state: str | None = None,
) -> None:
    """A timeline entry and its audit event ``rights.<action>``: ids, states, counts only."""
    facts = dict(details or {})
    session.add(
        RequestTimelineEntry(
            request_id=request.id,
            at=now,
            action=action,
            from_state=from_state,
            to_state=request.state if from_state is not None else None,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            details=facts,
        )
    )
    session.flush()
    audit = {"request_id": request.id, "kind": request.kind} | facts
    if from_state is not None:
        audit |= {"from": from_state, "to": request.state}
    record_event(
        session,
        actor=actor,
        action=f"rights.{action}",
        subject_id=request.subject_id,
        policy_version=request.policy_version,
        details=audit,
        now=now,
    )


def move(
    session: Session,
    request: RightsRequest,
    to: RequestState,
    action: str,
    *,
    now: datetime,
    actor: Actor,
    details: Mapping[str, Any] | None = None,
) -> RightsRequest:
    """Move ``request`` to ``to`` (IllegalTransition if the machine forbids it), on the record."""
    before = request.state
    request.state = check_transition(request.id, before, to).value
    if to in (RequestState.denied, RequestState.completed):
        request.closed_at = now
    note(session, request, action, now=now, actor=actor, details=details, from_state=before)
    return request


def _choice(kind: type[Any], value: str, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise RequestInputError(field, f"must be one of {allowed}") from None


def _proposed(
    policy: Policy, kind: RequestKind, proposed: Mapping[str, str] | None
) -> dict[str, str]:
    if kind is not RequestKind.correction:
        if proposed:
            raise RequestInputError("proposed", "only a correction proposes new values")
        return {}
    if not proposed:
        raise RequestInputError("proposed", "a correction needs the values to correct")
    for category, value in proposed.items():
        if category not in policy.categories:
            raise RequestInputError(f"proposed.{category}", "is not a declared category")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE:
            raise RequestInputError(
                f"proposed.{category}", f"must be text of 1 to {MAX_VALUE} characters"
            )
    return dict(proposed)


def create_request(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    *,
    kind: str,
    email: str,
    now: datetime,
    actor: Actor,
    jurisdiction: str | None = None,
    acting_as: str = "self",
    requester_email: str | None = None,
    relationship: str | None = None,
    proposed: Mapping[str, str] | None = None,
) -> RightsRequest:
    """Take in a request for the subject with email identity ``email`` and acknowledge it.

    A parent or nominee gives their own ``requester_email`` and their ``relationship`` to the
    subject. Raises :class:`RequestInputError` naming the field at fault.
    """
    right = _choice(RequestKind, kind, "kind")
    if policy.declaration.rights.offer(right.value) is None:
        raise RequestInputError("kind", "is not a right this declaration offers")
    on_behalf = _choice(ActingAs, acting_as, "acting_as")
    try:
        subject_address = normalise(IdentityKind.email, email)
    except IdentityError as exc:
        raise RequestInputError("email", exc.reason) from None
    if on_behalf is ActingAs.self:
        if relationship:
            raise RequestInputError("relationship", "only a parent or a nominee names one")
        if requester_email is not None and requester_email.strip():
            raise RequestInputError("requester_email", "only a parent or a nominee gives one")
        requester = {"email": subject_address, "relationship": None}
    else:
        if not relationship or len(relationship) > MAX_RELATIONSHIP:
            raise RequestInputError(
                "relationship", f"say how the requester is related (1 to {MAX_RELATIONSHIP})"
            )
        if requester_email is None:
            raise RequestInputError("requester_email", "a parent or nominee gives their address")
        try:
            address = normalise(IdentityKind.email, requester_email)
        except IdentityError as exc:
            raise RequestInputError("requester_email", exc.reason) from None
        requester = {"email": address, "relationship": relationship.strip()}
    values = _proposed(policy, right, proposed)
    try:
        due = deadlines(policy, right.value, jurisdiction, now)
    except UnknownJurisdiction as exc:
        raise RequestInputError("jurisdiction", str(exc).removeprefix("jurisdiction: ")) from None
    subject, _created = resolve_subject(
        session,
        keyring,
        IdentityKind.email.value,
        subject_address,
        now=now,
        actor=actor,
        policy_version=policy.version,
    )
    request_id = str(uuid.uuid4())
    request = RightsRequest(
        id=request_id,
        subject_id=subject.id,
        kind=right.value,
        acting_as=on_behalf.value,
        jurisdiction=jurisdiction,
        state=RequestState.received.value,
        policy_version=policy.version,
        received_at=now,
        acknowledge_by=due.acknowledge_by,
        complete_by=due.complete_by,
        original_complete_by=due.complete_by,
        extended=False,
        requester=seal(session, keyring, subject.id, request_id, "requester", requester),
        proposed=seal(session, keyring, subject.id, request_id, "proposed", values)
        if values
        else None,
    )
    session.add(request)
    session.flush()
    note(
        session,
        request,
        "request_received",
        now=now,
        actor=actor,
        details={
            "acting_as": on_behalf.value,
            "jurisdiction": jurisdiction,
            "acknowledge_by": due.acknowledge_by.isoformat(),
            "complete_by": due.complete_by.isoformat(),
            "proposed_categories": sorted(values),
        },
    )
    acknowledge(session, policy, keyring, request, now=now, actor=actor)
    return request


def requester_address(session: Session, keyring: Keyring, request: RightsRequest) -> str:
    """Where mail about the request goes: the requester's address (ShreddedSubject once the
    subject was erased)."""
    sealed = unseal(
        session, keyring, request.subject_id, request.id, "requester", request.requester
    )
    address: str = sealed["email"]
    return address


def mail_requester(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    request: RightsRequest,
    template: str,
    *,
    now: datetime,
    actor: Actor,
    context: Mapping[str, Any] | None = None,
    under_subject_key: bool = True,
) -> None:
    """Queue ``template`` for the requester. ``under_subject_key=False`` stores the message under
    the outbox key instead: the confirmation of an erasure must outlive the subject's key."""
    values = {
        "organization": policy.organization_name,
        "request_id": request.id,
        "right": KIND_LABELS[request.kind],
        "complete_by": request.complete_by.date().isoformat(),
    } | dict(context or {})
    enqueue(
        session,
        keyring=keyring,
        to=requester_address(session, keyring, request),
        template=template,
        context=values,
        now=now,
        actor=actor,
        subject_id=request.subject_id if under_subject_key else None,
        policy_version=request.policy_version,
    )


def acknowledge(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    request: RightsRequest,
    *,
    now: datetime,
    actor: Actor,
) -> None:
    """Tell the requester the request was received and by when it will be answered. Once."""
    if request.acknowledged_at is not None:
        return
    mail_requester(session, policy, keyring, request, "rights_received", now=now, actor=actor)
    request.acknowledged_at = now
    note(session, request, "request_acknowledged", now=now, actor=actor)


def mark_verified(
    session: Session, request_id: str, *, method: str, now: datetime, actor: Actor
) -> RightsRequest:
    """Record that the requester proved who they are, by ``method`` (a label such as
    ``email_code`` or ``account``); only then can the request move on (P15)."""
    if not _METHOD.fullmatch(method):
        raise RequestInputError("method", "must be a lower-case label such as email_code")
    request = get_request(session, request_id)
    check_transition(request.id, request.state, RequestState.verified)
    request.verified_at = now
    request.verification_method = method
    return move(
        session,
        request,
        RequestState.verified,
        "request_verified",
        now=now,
        actor=actor,
        details={"method": method},
    )


def start_review(
    session: Session, request_id: str, *, now: datetime, actor: Actor
) -> RightsRequest:
    request = get_request(session, request_id)
    return move(session, request, RequestState.in_review, "review_started", now=now, actor=actor)


def approve(session: Session, request_id: str, *, now: datetime, actor: Actor) -> RightsRequest:
    """Approve the request and queue its execution (a job) in the same transaction."""
    request = get_request(session, request_id)
    move(session, request, RequestState.approved, "request_approved", now=now, actor=actor)
    enqueue_job(
        session,
        EXECUTE_JOB,
        {"request_id": request.id},
        now=now,
        actor=actor,
        subject_id=request.subject_id,
    )
    return request


def deny(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    request_id: str,
    *,
    reason: str,
    now: datetime,
    actor: Actor,
) -> RightsRequest:
    """Refuse the request, telling the requester why (the reason is stored encrypted)."""
    if not reason.strip() or len(reason) > MAX_VALUE:
        raise RequestInputError("reason", f"say why, in 1 to {MAX_VALUE} characters")
    request = get_request(session, request_id)
    move(session, request, RequestState.denied, "request_denied", now=now, actor=actor)
    add_reason(session, keyring, request, "denied", reason)
    mail_requester(
        session,
        policy,
        keyring,
        request,
        "rights_denied",
        now=now,
        actor=actor,
        context={"reason": reason.strip()},
    )
    return request


def add_reason(
    session: Session, keyring: Keyring, request: RightsRequest, what: str, reason: str
) -> None:
    reasons: dict[str, str] = {}
    if request.reasons is not None:
        reasons = unseal(
            session, keyring, request.subject_id, request.id, "reasons", request.reasons
        )
    reasons[what] = reason.strip()
    request.reasons = seal(session, keyring, request.subject_id, request.id, "reasons", reasons)


def reasons_of(session: Session, keyring: Keyring, request: RightsRequest) -> dict[str, str]:
    if request.reasons is None:
        return {}
    found: dict[str, str] = unseal(
        session, keyring, request.subject_id, request.id, "reasons", request.reasons
    )
    return found
