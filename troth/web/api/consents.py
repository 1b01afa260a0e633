"""Subjects, identities and the consent ledger over JSON: ``/api/v1/subjects/…``, ``/consents``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import Field
from sqlalchemy.orm import Session

from troth.apikeys import AuthenticatedKey
from troth.consent import (
    ConsentEvent,
    ConsentInput,
    ConsentInputError,
    consent_record,
    get_record,
    history,
    link_identity,
    load_state,
    record_consents,
    record_signal,
    withdraw,
)
from troth.consent.receipts import policy_for_version
from troth.subjects import IdentityError
from troth.subjects.registry import UnknownSubject, get_subject, resolve_subject

from ..site import Site, site
from .auth import require_scope
from .errors import InvalidInput
from .sessions import Reading, Writing, keyring_for
from .shapes import Strict, SubjectId

router = APIRouter(tags=["consent"])

IdentityKindName = Literal["email", "phone", "external_id", "browser_id"]
MAX_EVENTS = 1000


class IdentityIn(Strict):
    kind: IdentityKindName
    value: str = Field(max_length=320, description="Normalised by troth; never echoed back.")


class ConsentIn(Strict):
    purpose: str = Field(max_length=200)
    state: Literal["given", "refused", "withdrawn"]
    method: Literal[
        "web_form", "cookie_banner", "api", "email_link", "global_privacy_control", "staff"
    ] = "api"
    acted_by: Literal["subject", "parent", "nominee"] = "subject"
    actor_ref: str | None = Field(
        default=None, max_length=200, description="An opaque reference to who acted."
    )
    categories: list[str] | None = Field(default=None, max_length=100)
    jurisdiction: Literal["in-dpdp", "eu-gdpr", "us-ca-ccpa"] | None = None
    language: str | None = Field(default=None, max_length=35)
    collection_point: str | None = Field(default=None, max_length=500)

    def as_input(self) -> ConsentInput:
        # Field by field rather than through model_dump: a batch converts a thousand of these.
        return ConsentInput(
            purpose=self.purpose,
            state=self.state,
            method=self.method,
            acted_by=self.acted_by,
            actor_ref=self.actor_ref,
            categories=self.categories,
            jurisdiction=self.jurisdiction,
            language=self.language,
            collection_point=self.collection_point,
        )


class ConsentEventsIn(Strict):
    events: list[ConsentIn] = Field(min_length=1, max_length=MAX_EVENTS)


class BatchConsentIn(ConsentIn):
    subject_id: str | None = Field(default=None, max_length=36)
    identity: IdentityIn | None = None


class BatchIn(Strict):
    events: list[BatchConsentIn] = Field(min_length=1, max_length=MAX_EVENTS)


class WithdrawIn(Strict):
    purposes: list[str] = Field(
        default_factory=list, max_length=100, description="Empty: every purpose consented to."
    )
    method: Literal["web_form", "api", "email_link", "staff"] = "api"


class SignalIn(Strict):
    kind: Literal["restriction", "objection", "gpc_opt_out", "child"]
    active: bool = True
    purpose: str | None = Field(default=None, max_length=200)


class SubjectIn(Strict):
    identity: IdentityIn


WriteKey = Annotated[AuthenticatedKey, Depends(require_scope("consent:write"))]
ReadKey = Annotated[AuthenticatedKey, Depends(require_scope("consent:read"))]


def _now(s: Site) -> datetime:
    return s.clock()


def _field(field: str, message: str) -> InvalidInput:
    return InvalidInput((field, message))


def _input_error(exc: ConsentInputError, prefix: str = "events") -> InvalidInput:
    where = f"{prefix}[{exc.index}].{exc.field}" if exc.index is not None else exc.field
    return _field(where, exc.message)


def _event_json(event: ConsentEvent) -> dict[str, Any]:
    return {
        "record_id": event.record_id,
        "subject_id": event.subject_id,
        "purpose": event.purpose,
        "state": event.state,
        "occurred_at": event.occurred_at.isoformat(),
        "expires_at": event.expires_at.isoformat() if event.expires_at else None,
        "policy_version": event.policy_version,
        "notice_hash": event.notice_hash,
        "categories": list(event.categories),
        "jurisdiction": event.jurisdiction,
        "language": event.language,
        "collection_point": event.collection_point,
        "method": event.method,
        "acted_by": event.acted_by,
    }


def _known_subject(session: Session, subject_id: str) -> str:
    try:
        return get_subject(session, subject_id).id
    except UnknownSubject:
        raise HTTPException(status_code=404, detail="no such subject") from None


@router.post("/subjects", status_code=200, summary="Find or create the subject of an identity")
def find_or_create_subject(
    body: SubjectIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    s = site(request)
    try:
        subject, created = resolve_subject(
            session,
            keyring_for(s, "identities cannot be stored"),
            body.identity.kind,
            body.identity.value,
            now=_now(s),
            actor=key.actor,
            policy_version=s.policy.version,
        )
    except IdentityError as exc:
        raise _field("identity.value", exc.reason) from None
    return {"subject_id": subject.id, "created": created}


@router.post("/subjects/{subject_id}/identities", summary="Link an identity (merging subjects)")
def link(
    subject_id: SubjectId,
    body: IdentityIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    s = site(request)
    _known_subject(session, subject_id)
    try:
        canonical, merged = link_identity(
            session,
            keyring_for(s, "identities cannot be stored"),
            s.policy,
            subject_id,
            body.kind,
            body.value,
            actor=key.actor,
            now=_now(s),
        )
    except ConsentInputError as exc:
        raise _field("value", exc.message) from None
    return {"subject_id": canonical, "merged": merged}


@router.get("/subjects/{subject_id}/consents", summary="Current consent state and history")
def subject_consents(
    subject_id: SubjectId,
    request: Request,
    session: Reading,
    _key: ReadKey,
    format: Annotated[Literal["troth", "iso27560"], Query()] = "troth",
) -> dict[str, Any]:
    s = site(request)
    canonical = _known_subject(session, subject_id)
    events = history(session, canonical)
    if format == "iso27560":
        policies = {
            v: policy_for_version(session, s.policy, v) for v in {e.policy_version for e in events}
        }
        return {
            "subject_id": canonical,
            "records": [consent_record(e, policies[e.policy_version]) for e in events],
        }
    state = load_state(session, canonical, _now(s))
    return {
        "subject_id": canonical,
        "as_of": state.as_of.isoformat(),
        "consents": {
            purpose: {
                "state": c.state.value,
                "active": c.active,
                "since": c.since.isoformat(),
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                "renewal_required": c.renewal_required,
                "record_id": c.record_id,
                "policy_version": c.policy_version,
                "method": c.method,
                "acted_by": c.acted_by,
            }
            for purpose, c in sorted(state.consents.items())
        },
        "signals": {
            "restricted": state.restricted,
            "objections": sorted(o or "*" for o in state.objections),
            "gpc_opt_out": state.gpc_opt_out,
            "child": state.child,
        },
        "history": [_event_json(e) for e in events],
    }


@router.post("/subjects/{subject_id}/consents", status_code=201, summary="Record consent events")
def record_for_subject(
    subject_id: SubjectId,
    body: ConsentEventsIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    s = site(request)
    _known_subject(session, subject_id)
    try:
        rows = record_consents(
            session,
            s.policy,
            [(subject_id, event.as_input()) for event in body.events],
            actor=key.actor,
            now=_now(s),
        )
    except ConsentInputError as exc:
        raise _input_error(exc) from None
    return {
        "recorded": [
            {"record_id": r["record_id"], "purpose": r["purpose"], "state": r["state"]}
            for r in rows
        ]
    }


@router.post("/subjects/{subject_id}/consents/withdraw", summary="Withdraw consent, in one call")
def withdraw_for_subject(
    subject_id: SubjectId,
    body: WithdrawIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    s = site(request)
    _known_subject(session, subject_id)
    try:
        rows = withdraw(
            session,
            s.policy,
            subject_id,
            body.purposes,
            method=body.method,
            actor=key.actor,
            now=_now(s),
        )
    except ConsentInputError as exc:
        where = f"purposes[{exc.index}]" if exc.index is not None else exc.field
        raise _field(where, exc.message) from None
    return {"withdrawn": [{"record_id": r["record_id"], "purpose": r["purpose"]} for r in rows]}


@router.post("/subjects/{subject_id}/signals", status_code=201, summary="Raise or lift a signal")
def signal(
    subject_id: SubjectId,
    body: SignalIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    s = site(request)
    _known_subject(session, subject_id)
    try:
        row = record_signal(
            session,
            s.policy,
            subject_id,
            body.kind,
            active=body.active,
            purpose=body.purpose,
            actor=key.actor,
            now=_now(s),
        )
    except ConsentInputError as exc:
        raise _field(exc.field, exc.message) from None
    return {"kind": row.kind, "active": row.active, "purpose": row.purpose}


@router.post("/consents", status_code=201, summary="Record consent events for many subjects")
def record_batch(
    body: BatchIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    """Each event names its subject by ``subject_id`` or by ``identity`` (found or created)."""
    s = site(request)
    actor = key.actor
    now = _now(s)
    items: list[tuple[str, ConsentInput]] = []
    resolved: dict[tuple[str, str], str] = {}
    for index, event in enumerate(body.events):
        if (event.subject_id is None) == (event.identity is None):
            raise _field(f"events[{index}]", "give exactly one of subject_id and identity")
        if event.identity is not None:
            ref = (event.identity.kind, event.identity.value)
            if ref not in resolved:
                try:
                    subject, _ = resolve_subject(
                        session,
                        keyring_for(s, "identities cannot be stored"),
                        *ref,
                        now=now,
                        actor=actor,
                        policy_version=s.policy.version,
                    )
                except IdentityError as exc:
                    raise _field(f"events[{index}].identity.value", exc.reason) from None
                resolved[ref] = subject.id
            subject_id = resolved[ref]
        else:
            assert event.subject_id is not None
            subject_id = event.subject_id
        items.append((subject_id, event.as_input()))
    try:
        rows = record_consents(session, s.policy, items, actor=actor, now=now)
    except ConsentInputError as exc:
        raise _input_error(exc) from None
    except UnknownSubject as exc:
        index = next(i for i, (sid, _) in enumerate(items) if sid == exc.subject_id)
        raise _field(f"events[{index}].subject_id", "no such subject") from None
    return {
        "recorded": [
            {"record_id": r["record_id"], "subject_id": r["subject_id"], "purpose": r["purpose"]}
            for r in rows
        ]
    }


@router.get("/consents/{record_id}", summary="One consent record, or its receipt")
def receipt(
    record_id: Annotated[str, Path(max_length=36)],
    request: Request,
    session: Reading,
    _key: ReadKey,
    format: Annotated[Literal["troth", "iso27560"], Query()] = "troth",
) -> dict[str, Any]:
    event = get_record(session, record_id)
    if event is None:
        raise HTTPException(status_code=404, detail="no such consent record")
    if format == "iso27560":
        return consent_record(
            event, policy_for_version(session, site(request).policy, event.policy_version)
        )
    return _event_json(event)
