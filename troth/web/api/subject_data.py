"""Need-to-know reads of a subject's collected data (P22): ``GET /api/v1/subjects/{id}/data``.

The route parses the purpose and the staff reference, calls
:func:`troth.vault.read_for_staff` under the API key's staff role, and answers. A refused read
is audited too: its transaction is committed before the 403 is sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from troth.apikeys import AuthenticatedKey
from troth.subjects.registry import ShreddedSubject, UnknownSubject
from troth.vault import StaffReadInputError, read_for_staff

from ..site import site
from .auth import require_scope
from .errors import InvalidInput
from .sessions import Writing, keyring_for
from .shapes import SubjectId

router = APIRouter(tags=["vault"])


ReadKey = Annotated[AuthenticatedKey, Depends(require_scope("data:read"))]


@router.get(
    "/subjects/{subject_id}/data",
    summary="Read a subject's data for a purpose, as the key's staff role allows",
)
def read_subject_data(
    subject_id: SubjectId,
    request: Request,
    session: Writing,  # a read writes its audit event
    key: ReadKey,
    purpose: Annotated[
        str,
        Query(
            max_length=200,
            description="Why the data is read: a purpose the key's staff role may read for.",
        ),
    ],
    staff: Annotated[
        str | None,
        Query(
            max_length=100,
            description="An opaque id of the member of staff reading (e.g. an employee number); "
            "recorded in the audit trail. Never a name or an address.",
        ),
    ] = None,
) -> dict[str, Any]:
    s = site(request)
    keyring = keyring_for(s, "no data can be read")
    # create_key refuses a data:read key without a role; a row edited by hand is still refused.
    if key.staff_role is None:
        raise HTTPException(status_code=403, detail="This API key has no staff role to read under")
    try:
        read = read_for_staff(
            session,
            s.policy,
            keyring,
            subject_id=subject_id,
            role=key.staff_role,
            purpose=purpose,
            actor=key.actor,
            now=s.clock(),
            staff_ref=staff,
        )
    except StaffReadInputError as exc:
        raise InvalidInput((exc.field, exc.message), location="query") from None
    except UnknownSubject:
        raise HTTPException(status_code=404, detail="no such subject") from None
    except ShreddedSubject:
        raise HTTPException(
            status_code=410, detail="this subject's data was erased: its key no longer exists"
        ) from None
    if not read.allowed:
        session.commit()  # the refusal's audit event stays
        raise HTTPException(status_code=403, detail=f"Read refused: {read.refusal}")
    return {
        "subject_id": read.subject_id,
        "role": read.role,
        "purpose": read.purpose,
        "categories": sorted(read.categories),
        "items": [
            {
                "category": item.category,
                "value": item.value,
                "source": item.source,
                "purpose": item.purpose,
                "collection_point": item.collection_point,
                "collected_at": item.collected_at.isoformat(),
            }
            for item in read.items
        ],
    }
