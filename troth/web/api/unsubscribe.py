"""The one-click unsubscribe link over JSON, for the ``List-Unsubscribe`` header of a company's
marketing mail (P6). Building a link changes nothing; following it withdraws (see
troth.notify.unsubscribe). It needs ``consent:write``: a link withdraws consent, which a key that
may record consent may already do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from troth.apikeys import AuthenticatedKey
from troth.consent import ConsentInputError
from troth.notify.unsubscribe import unsubscribe_url

from ..site import public_base, site
from .auth import require_scope
from .consents import SubjectId, _known_subject
from .errors import InvalidInput
from .sessions import Reading, keyring_for

router = APIRouter(tags=["consent"])


@router.get(
    "/subjects/{subject_id}/unsubscribe-link",
    summary="A one-click unsubscribe link for a marketing purpose",
)
def unsubscribe_link(
    subject_id: SubjectId,
    request: Request,
    session: Reading,
    key: Annotated[AuthenticatedKey, Depends(require_scope("consent:write"))],
    purpose: Annotated[str, Query(max_length=200, description="A marketing purpose's key.")],
) -> dict[str, Any]:
    s = site(request)
    keyring = keyring_for(s, "no link can be signed")
    subject = _known_subject(session, subject_id)
    try:
        link = unsubscribe_url(keyring, s.policy, public_base(request), subject, purpose, s.clock())
    except ConsentInputError as exc:
        raise InvalidInput((exc.field, exc.message), location="query") from None
    return {
        "subject_id": subject,
        "purpose": purpose,
        "url": link.url,
        "expires_at": link.expires_at.isoformat(),
        "headers": link.headers,
    }
