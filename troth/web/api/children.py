"""A subject found to be a child without a parent's consent (P29):
``POST /api/v1/subjects/{id}/child``. The route parses, calls
:func:`troth.children.record_child_found`, and answers. It needs ``vault:write``: it deletes
(or isolates) vault data, which is what that scope already allows a server to write."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from troth.children import record_child_found
from troth.children.found import ChildFoundError
from troth.subjects.registry import UnknownSubject

from ..site import site
from .errors import InvalidInput
from .sessions import Writing, keyring_for
from .subject_data import SubjectId
from .vault import VaultKey

router = APIRouter(tags=["vault"])


class ChildFoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent_email: str | None = Field(
        default=None,
        max_length=320,
        description="The parent's email address, to tell them (when the declaration's "
        "children.notify_parent is set); stored encrypted, never echoed",
    )


@router.post(
    "/subjects/{subject_id}/child",
    summary="Record that a subject is a child without a parent's consent; delete their data",
)
def child_found(
    subject_id: SubjectId,
    request: Request,
    session: Writing,
    key: VaultKey,
    body: ChildFoundIn | None = None,
) -> dict[str, Any]:
    """Raises the subject's ``child`` signal and deletes their usable data (or isolates it, as
    the declaration's ``children.on_found_without_consent`` says), keeping what a parent
    consented to; the parent is emailed when an address is known and ``notify_parent`` is set."""
    s = site(request)
    try:
        found = record_child_found(
            session,
            s.policy,
            keyring_for(s, "personal data cannot be stored"),
            subject_id,
            parent_email=body.parent_email if body is not None else None,
            now=s.clock(),
            actor=key.actor,
        )
    except ChildFoundError as exc:
        if exc.field == "declaration":
            raise HTTPException(status_code=409, detail=str(exc)) from None
        raise InvalidInput((exc.field, exc.message)) from None
    except UnknownSubject:
        raise HTTPException(status_code=404, detail="no such subject") from None
    return {
        "subject_id": found.subject_id,
        "action": found.action,
        "items": found.items,
        "categories": found.categories,
        "parent_notified": found.parent_notified,
    }
