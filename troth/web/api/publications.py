"""Publication consent over JSON: staff draft, list what is published, withdraw on request.

The person's own approval happens on the review page the email links to (troth.web.publications),
never through the API: an API key can propose and take down, not consent for someone.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import Field
from sqlalchemy.orm import Session

from troth.apikeys import AuthenticatedKey
from troth.publications import (
    AlreadyDecided,
    Publication,
    UnknownPublication,
    draft_publication,
    published,
    revise_draft,
    withdraw,
)
from troth.subjects import IdentityError
from troth.subjects.registry import UnknownSubject, get_subject, resolve_subject

from ..site import Site, public_base, site
from .auth import require_scope
from .errors import InvalidInput
from .sessions import Reading, Writing, keyring_for
from .shapes import Strict, troth_id

router = APIRouter(tags=["publications"])

PublicationId = Annotated[str, troth_id("The publication's")]
MAX_TITLE = 200
MAX_TEXT = 20_000


class IdentityIn(Strict):
    kind: Literal["email", "phone", "external_id", "browser_id"]
    value: str = Field(max_length=320, description="Normalised by troth; never echoed back.")


class ContentIn(Strict):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    review_email: str = Field(
        max_length=320,
        description="Where the review link is sent: normally the person's own email identity.",
    )


class DraftIn(ContentIn):
    subject_id: str | None = Field(default=None, max_length=36)
    identity: IdentityIn | None = Field(
        default=None, description="The person, found or created by identity (or subject_id)."
    )
    kind: Literal["testimonial", "case_study", "portfolio"]


WriteKey = Annotated[AuthenticatedKey, Depends(require_scope("publications:write"))]
ReadKey = Annotated[AuthenticatedKey, Depends(require_scope("publications:read"))]


def _item_json(item: Publication) -> dict[str, Any]:
    return {
        "id": item.id,
        "subject_id": item.subject_id,
        "kind": item.kind,
        "status": item.status,
        "revision": item.revision,
        "approved_at": item.approved_at.isoformat() if item.approved_at else None,
        "withdrawn_at": item.withdrawn_at.isoformat() if item.withdrawn_at else None,
    }


def _subject_of(session: Session, s: Site, body: DraftIn, key: AuthenticatedKey) -> str:
    if (body.subject_id is None) == (body.identity is None):
        raise InvalidInput(("subject_id", "give exactly one of subject_id and identity"))
    if body.subject_id is not None:
        try:
            return get_subject(session, body.subject_id).id
        except UnknownSubject:
            raise InvalidInput(("subject_id", "no such subject")) from None
    assert body.identity is not None
    try:
        subject, _created = resolve_subject(
            session,
            keyring_for(s, "publications cannot be stored"),
            body.identity.kind,
            body.identity.value,
            now=s.clock(),
            actor=key.actor,
            policy_version=s.policy.version,
        )
    except IdentityError as exc:
        raise InvalidInput(("identity.value", exc.reason)) from None
    return subject.id


@router.post(
    "/publications/drafts", status_code=201, summary="Draft a publication for the person's review"
)
def create_draft(
    body: DraftIn, request: Request, session: Writing, key: WriteKey
) -> dict[str, Any]:
    s = site(request)
    keyring = keyring_for(s, "publications cannot be stored")
    subject_id = _subject_of(session, s, body, key)
    try:
        item = draft_publication(
            session,
            keyring,
            subject_id=subject_id,
            kind=body.kind,
            title=body.title,
            text=body.text,
            review_to=body.review_email,
            base_url=public_base(request),
            organization=s.policy.organization_name,
            now=s.clock(),
            actor=key.actor,
            policy_version=s.policy.version,
        )
    except IdentityError as exc:
        raise InvalidInput(("review_email", exc.reason)) from None
    return _item_json(item)


@router.put(
    "/publications/drafts/{publication_id}",
    summary="Change a publication's text: a new draft for a new review",
)
def change_draft(
    publication_id: PublicationId,
    body: ContentIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    s = site(request)
    keyring = keyring_for(s, "publications cannot be stored")
    try:
        item = revise_draft(
            session,
            keyring,
            publication_id,
            title=body.title,
            text=body.text,
            review_to=body.review_email,
            base_url=public_base(request),
            organization=s.policy.organization_name,
            now=s.clock(),
            actor=key.actor,
            policy_version=s.policy.version,
        )
    except IdentityError as exc:
        raise InvalidInput(("review_email", exc.reason)) from None
    except UnknownPublication:
        raise HTTPException(404, "no such publication") from None
    except AlreadyDecided:
        raise HTTPException(
            409, "this publication was withdrawn at the person's request; draft a new one"
        ) from None
    return _item_json(item)


@router.get("/publications", summary="The approved publications, not withdrawn")
def list_published(request: Request, session: Reading, _key: ReadKey) -> dict[str, Any]:
    items = published(session, keyring_for(site(request), "publications cannot be stored"))
    return {
        "publications": [
            {
                "id": item.id,
                "kind": item.kind,
                "title": item.title,
                "text": item.text,
                "approved_at": item.approved_at.isoformat(),
            }
            for item in items
        ]
    }


@router.post(
    "/publications/{publication_id}/withdraw",
    summary="Withdraw a publication on the person's request",
)
def withdraw_publication(
    publication_id: PublicationId, request: Request, session: Writing, key: WriteKey
) -> dict[str, Any]:
    s = site(request)
    try:
        decision = withdraw(
            session,
            publication_id,
            actor=key.actor,
            now=s.clock(),
            policy_version=s.policy.version,
        )
    except UnknownPublication:
        raise HTTPException(404, "no such publication") from None
    return _item_json(decision.item) | {"changed": decision.changed}
