"""The vault over JSON: ``POST /collect`` stores a submission, ``POST /events`` starts the
retention clocks that wait for an event, a subject's or a client's. See docs/vault.md and
docs/retention.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AwareDatetime, Field, model_validator

from troth.apikeys import AuthenticatedKey
from troth.declaration.model import KEY_MAX_LENGTH
from troth.subjects import IdentityError, encrypt
from troth.subjects.registry import UnknownSubject, find_subject
from troth.vault import (
    CollectionRefused,
    EventRefused,
    FieldInput,
    collect,
    record_client_event,
    record_subject_event,
)
from troth.vault.collect import MAX_COLLECTION_POINT, MAX_FIELDS, MAX_VALUE_CHARS, Seal

from ..site import public_base, site
from .auth import require_scope
from .errors import InvalidInput
from .sessions import Writing, keyring_for
from .shapes import Strict

router = APIRouter(tags=["vault"])

IdentityKindName = Literal["email", "phone", "external_id", "browser_id"]


class IdentityIn(Strict):
    kind: IdentityKindName
    value: str = Field(max_length=320, description="Normalised by troth; never echoed back.")


class FieldIn(Strict):
    category: str = Field(max_length=200, description="A data category the declaration declares")
    value: str = Field(max_length=MAX_VALUE_CHARS, description="Stored encrypted; never echoed.")


class CollectIn(Strict):
    identity: IdentityIn
    fields: list[FieldIn] = Field(min_length=1, max_length=MAX_FIELDS)
    source: str = Field(max_length=200, description="A source the declaration declares")
    purpose: str = Field(max_length=200, description="A purpose the declaration declares")
    collection_point: str | None = Field(
        default=None,
        max_length=MAX_COLLECTION_POINT,
        description="Where the data was collected: a form's name, its URL",
    )
    parent_email: str | None = Field(
        default=None,
        max_length=320,
        description="A child's parent's email address: needed when the submission is a "
        "child's (it is then held until the parent consents); stored encrypted, never echoed",
    )
    client: str | None = Field(
        default=None,
        max_length=KEY_MAX_LENGTH,
        description="The key of the company's client the data is collected for (acme_logistics): "
        "its events and agreed periods then count under the retention rules that allow a "
        "per-client override; refused when no rule covering the submission does",
    )


class EventIn(Strict):
    subject_id: str | None = Field(default=None, max_length=36)
    identity: IdentityIn | None = None
    client: str | None = Field(
        default=None,
        max_length=KEY_MAX_LENGTH,
        description="A client's key, for an event in the life of one of the company's clients "
        "(its contract ended); instead of subject_id or identity",
    )
    event: str = Field(max_length=200, description="A built-in or declared event key")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it happened (default: now); not in the future"
    )

    @model_validator(mode="after")
    def _one_subject(self) -> EventIn:
        # With a client, the route names the field at fault (client) if a subject is given too.
        if self.client is None and (self.subject_id is None) == (self.identity is None):
            raise ValueError("give exactly one of subject_id, identity and client")
        return self


def value_seal() -> Seal:
    """How values are sealed: always AES-256-GCM. A dependency only so that the benchmark can
    measure what encryption costs (bench/vault.py overrides it); nothing configures it."""
    return encrypt


VaultKey = Annotated[AuthenticatedKey, Depends(require_scope("vault:write"))]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@router.post("/collect", status_code=201, summary="Store a submission of personal data")
def collect_submission(
    body: CollectIn,
    request: Request,
    session: Writing,
    key: VaultKey,
    seal: Annotated[Seal, Depends(value_seal)],
) -> dict[str, Any]:
    """Checks every field against the declaration, then stores each value encrypted under the
    subject's own key with its retention deadline. Refusals are 422s naming each field
    (``fields[2].category``), never a value; nothing is stored when anything is refused.
    A child's submission is stored but held until a parent consents (``status``
    ``held_pending_parental_consent``); it needs ``parent_email``."""
    s = site(request)
    try:
        result = collect(
            session,
            s.policy,
            keyring_for(s, "personal data cannot be stored"),
            identity=(body.identity.kind, body.identity.value),
            fields=[FieldInput(f.category, f.value) for f in body.fields],
            source=body.source,
            purpose=body.purpose,
            collection_point=body.collection_point,
            now=s.clock(),
            actor=key.actor,
            parent_email=body.parent_email,
            base_url=public_base(request),
            client=body.client,
            seal=seal,
        )
    except CollectionRefused as exc:
        raise InvalidInput(*exc.fields) from None
    return {
        "status": "held_pending_parental_consent" if result.held else "stored",
        "held": {
            "hold_id": result.hold_id,
            "until": _iso(result.held_until),
            "message": "a child's data: held, unused, until a parent consents by the link "
            "emailed to them; deleted if none does by then",
        }
        if result.held
        else None,
        "subject_id": result.subject_id,
        "subject_created": result.subject_created,
        "submission_id": result.submission_id,
        "client": body.client,
        "stored": [
            {
                "field": f"fields[{f.index}]",
                "category": f.category,
                "retention_rule": f.retention_rule,
                "retain_until": _iso(f.retain_until),
                "waiting_for": f.waiting_for,
            }
            for f in result.stored
        ],
        "stripped": [
            {"field": f"fields[{f.index}]", "category": f.category, "reason": f.reason}
            for f in result.stripped
        ],
    }


@router.post("/events", status_code=201, summary="Record an event that starts retention clocks")
def record_event(
    body: EventIn, request: Request, session: Writing, key: VaultKey
) -> dict[str, Any]:
    """Records that an event (``account_closed``, ``contract_ended``, ``last_activity``,
    ``project_completed`` or a declared custom event) happened to a subject, or to one of the
    company's clients (``client``), and sets the deadline of the items whose retention clock
    starts at it: the subject's, or those collected for the client under the rules that allow
    a per-client override."""
    s = site(request)
    if body.client is not None:
        return _record_client_event(body, request, session, key)
    subject_id = body.subject_id
    if body.identity is not None:
        try:
            found = find_subject(
                session,
                keyring_for(s, "personal data cannot be stored"),
                body.identity.kind,
                body.identity.value,
            )
        except IdentityError as exc:
            raise InvalidInput(("identity.value", exc.reason)) from None
        if found is None:
            raise HTTPException(status_code=404, detail="no subject has this identity")
        subject_id = found.id
    assert subject_id is not None
    try:
        recorded = record_subject_event(
            session,
            s.policy,
            subject_id=subject_id,
            event=body.event,
            occurred_at=body.occurred_at,
            now=s.clock(),
            actor=key.actor,
        )
    except EventRefused as exc:
        raise InvalidInput((exc.field, exc.message)) from None
    except UnknownSubject:
        raise HTTPException(status_code=404, detail="no such subject") from None
    return {
        "subject_id": recorded.subject_id,
        "event": recorded.event,
        "occurred_at": recorded.occurred_at.isoformat(),
        "items_updated": recorded.items_updated,
    }


def _record_client_event(
    body: EventIn, request: Request, session: Writing, key: AuthenticatedKey
) -> dict[str, Any]:
    assert body.client is not None
    if body.subject_id is not None or body.identity is not None:
        raise InvalidInput(
            ("client", "give either a client or a subject (subject_id or identity), not both")
        )
    s = site(request)
    try:
        recorded = record_client_event(
            session,
            s.policy,
            client=body.client,
            event=body.event,
            occurred_at=body.occurred_at,
            now=s.clock(),
            actor=key.actor,
        )
    except EventRefused as exc:
        raise InvalidInput((exc.field, exc.message)) from None
    return {
        "client": recorded.client,
        "event": recorded.event,
        "occurred_at": recorded.occurred_at.isoformat(),
        "items_updated": recorded.items_updated,
    }
