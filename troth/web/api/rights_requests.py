"""Rights requests over JSON, for companies that take requests through their own channels:
``POST /requests``, ``POST /requests/{id}/verify``, ``GET /requests/{id}``, ``GET /requests``.

Each route parses, calls one service of troth.rights, and answers. Nothing the requester gave
(addresses, relationship, proposed values) is ever answered back: a request is shown by its ids,
states, deadlines and timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session

from troth.apikeys import AuthenticatedKey
from troth.rights import (
    IllegalTransition,
    QueueFilters,
    RequestInputError,
    RequestKind,
    RequestState,
    RightsRequest,
    UnknownRequest,
    create_request,
    get_request,
    mark_verified,
    next_due,
    queue,
    timeline,
)
from troth.store import write_scope
from troth.subjects import Keyring

from ..site import Site, site
from .auth import require_scope
from .errors import InvalidInput
from .shapes import Strict, troth_id

router = APIRouter(tags=["rights requests"])

RequestId = Annotated[str, troth_id("The request's")]
KindName = Literal[
    "access",
    "correction",
    "erasure",
    "portability",
    "restriction",
    "objection",
    "opt_out_marketing",
    "withdraw_consent",
    "stop_tracking",
]
StateName = Literal[
    "received", "verified", "in_review", "approved", "denied", "executing", "completed"
]
METHOD_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class RequestIn(Strict):
    kind: KindName
    email: str = Field(max_length=320, description="The subject's email identity; never echoed.")
    jurisdiction: Literal["in-dpdp", "eu-gdpr", "us-ca-ccpa"] | None = Field(
        default=None, description="The law the requester claims; one the declaration claims."
    )
    acting_as: Literal["self", "parent", "nominee"] = "self"
    requester_email: str | None = Field(
        default=None, max_length=320, description="A parent's or nominee's own address."
    )
    relationship: str | None = Field(
        default=None, max_length=200, description="How a parent or nominee is related."
    )
    proposed: dict[str, Annotated[str, Field(max_length=10_000)]] | None = Field(
        default=None, description="For a correction: the new value per data category."
    )
    verified_by: str | None = Field(
        default=None,
        pattern=METHOD_PATTERN,
        description="If your channel already verified the requester, how (e.g. `account`).",
    )


class VerifyIn(Strict):
    method: str = Field(
        pattern=METHOD_PATTERN, description="How the requester was verified, e.g. `email_code`."
    )


def _writing(request: Request) -> Iterator[Session]:
    with write_scope(site(request).sessions) as session:
        yield session


def _reading(request: Request) -> Iterator[Session]:
    with site(request).sessions() as session:
        yield session


Writing = Annotated[Session, Depends(_writing, scope="function")]
Reading = Annotated[Session, Depends(_reading, scope="function")]
WriteKey = Annotated[AuthenticatedKey, Depends(require_scope("requests:write"))]
ReadKey = Annotated[AuthenticatedKey, Depends(require_scope("requests:read"))]


def _keyring(s: Site) -> Keyring:
    if s.keyring is None:
        raise HTTPException(
            status_code=503, detail="no master key is configured, so requests cannot be stored"
        )
    return s.keyring


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def request_json(request: RightsRequest, now: datetime) -> dict[str, Any]:
    which, due = next_due(request)
    return {
        "id": request.id,
        "subject_id": request.subject_id,
        "kind": request.kind,
        "acting_as": request.acting_as,
        "jurisdiction": request.jurisdiction,
        "state": request.state,
        "extended": request.extended,
        "policy_version": request.policy_version,
        "received_at": request.received_at.isoformat(),
        "acknowledged_at": _iso(request.acknowledged_at),
        "verified_at": _iso(request.verified_at),
        "verification_method": request.verification_method,
        "closed_at": _iso(request.closed_at),
        "deadlines": {
            "acknowledge_by": request.acknowledge_by.isoformat(),
            "complete_by": request.complete_by.isoformat(),
            "original_complete_by": request.original_complete_by.isoformat(),
            "next": which or None,
            "next_due_at": _iso(due),
            "overdue": due is not None and due <= now,
        },
        "outcome": request.outcome,
    }


def _with_timeline(session: Session, request: RightsRequest, now: datetime) -> dict[str, Any]:
    return request_json(request, now) | {
        "timeline": [
            {
                "at": entry.at.isoformat(),
                "action": entry.action,
                "from": entry.from_state,
                "to": entry.to_state,
                "actor": {"kind": entry.actor_kind, "id": entry.actor_id},
                "details": entry.details,
            }
            for entry in timeline(session, request.id)
        ]
    }


@router.post("/requests", status_code=201, summary="Take in a rights request")
def create(body: RequestIn, request: Request, session: Writing, key: WriteKey) -> dict[str, Any]:
    s = site(request)
    now = s.clock()
    try:
        taken = create_request(
            session,
            s.policy,
            _keyring(s),
            kind=body.kind,
            email=body.email,
            jurisdiction=body.jurisdiction,
            acting_as=body.acting_as,
            requester_email=body.requester_email,
            relationship=body.relationship,
            proposed=body.proposed,
            now=now,
            actor=key.actor,
        )
        if body.verified_by is not None:
            mark_verified(session, taken.id, method=body.verified_by, now=now, actor=key.actor)
    except RequestInputError as exc:
        raise InvalidInput((exc.field, exc.message)) from None
    return _with_timeline(session, taken, now)


@router.post(
    "/requests/{request_id}/verify",
    summary="Record that the requester's identity was verified",
)
def verify(
    request_id: RequestId, body: VerifyIn, request: Request, session: Writing, key: WriteKey
) -> dict[str, Any]:
    now = site(request).clock()
    try:
        verified = mark_verified(session, request_id, method=body.method, now=now, actor=key.actor)
    except UnknownRequest:
        raise HTTPException(404, "no such request") from None
    except IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None
    return _with_timeline(session, verified, now)


@router.get("/requests/{request_id}", summary="A request with its deadlines and timeline")
def read_one(
    request_id: RequestId, request: Request, session: Reading, _key: ReadKey
) -> dict[str, Any]:
    try:
        found = get_request(session, request_id)
    except UnknownRequest:
        raise HTTPException(404, "no such request") from None
    return _with_timeline(session, found, site(request).clock())


@router.get("/requests", summary="The queue of requests, overdue first")
def list_queue(
    request: Request,
    session: Reading,
    _key: ReadKey,
    state: Annotated[
        StateName | None, Query(description="Only this state; default: every open one.")
    ] = None,
    kind: Annotated[KindName | None, Query(description="Only this right.")] = None,
    jurisdiction: Annotated[
        Literal["in-dpdp", "eu-gdpr", "us-ca-ccpa"] | None, Query(description="Only this law.")
    ] = None,
    overdue: Annotated[bool, Query(description="Only requests past their next deadline.")] = False,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> dict[str, Any]:
    now = site(request).clock()
    filters = QueueFilters(
        state=RequestState(state).value if state else None,
        kind=RequestKind(kind).value if kind else None,
        jurisdiction=jurisdiction,
        overdue_only=overdue,
    )
    entries = queue(session, filters, now)
    return {
        "requests": [request_json(entry.request, now) for entry in entries[:limit]],
        "total": len(entries),
    }
