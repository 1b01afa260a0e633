"""Legal holds over JSON: ``POST /holds``, ``GET /holds``, ``POST /holds/{id}/lift`` (P20).

Each route parses, calls one service of troth.retention, and answers. See docs/retention.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime, Field

from troth.apikeys import AuthenticatedKey
from troth.retention import (
    HoldAlreadyLifted,
    HoldInputError,
    LegalHold,
    UnknownHold,
    is_active,
    lift_hold,
    list_holds,
    place_hold,
)
from troth.retention.holds import MAX_REASON, MAX_WHO

from ..site import site
from .auth import require_scope
from .errors import InvalidInput
from .sessions import Reading, Writing
from .shapes import Strict, troth_id

router = APIRouter(tags=["retention"])

HoldId = Annotated[str, troth_id("The hold's")]
WriteKey = Annotated[AuthenticatedKey, Depends(require_scope("retention:write"))]
ReadKey = Annotated[AuthenticatedKey, Depends(require_scope("retention:read"))]


class HoldIn(Strict):
    scope: Literal["subject", "client", "category", "dataset"]
    target: str = Field(
        max_length=400,
        description="A subject's troth id, a client's key, a declared category, or a dataset "
        "(`vault`, `KEY`, `KEY.COLLECTION`)",
    )
    reason: str = Field(
        max_length=MAX_REASON, description="The matter (a case or order number); no personal data"
    )
    placed_by: str = Field(max_length=MAX_WHO, description="Who places the hold")
    until: AwareDatetime | None = Field(default=None, description="When it ends by itself")


class LiftIn(Strict):
    lifted_by: str = Field(max_length=MAX_WHO, description="Who lifts the hold")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def hold_json(hold: LegalHold, now: datetime) -> dict[str, Any]:
    return {
        "id": hold.id,
        "scope": hold.scope,
        "target": hold.target,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": hold.placed_at.isoformat(),
        "until": _iso(hold.until),
        "lifted_at": _iso(hold.lifted_at),
        "lifted_by": hold.lifted_by,
        "active": is_active(hold, now),
    }


@router.post("/holds", status_code=201, summary="Place a legal hold")
def place(body: HoldIn, request: Request, session: Writing, key: WriteKey) -> dict[str, Any]:
    s = site(request)
    now = s.clock()
    try:
        hold = place_hold(
            session,
            s.policy,
            scope=body.scope,
            target=body.target,
            reason=body.reason,
            placed_by=body.placed_by,
            until=body.until,
            now=now,
            actor=key.actor,
        )
    except HoldInputError as exc:
        field = "target" if exc.field == body.scope else exc.field
        raise InvalidInput((field, exc.message)) from None
    return hold_json(hold, now)


@router.get("/holds", summary="List legal holds, newest first")
def read_all(
    request: Request,
    session: Reading,
    _key: ReadKey,
    active: Annotated[bool, Query(description="Only the holds in force now.")] = False,
) -> dict[str, Any]:
    now = site(request).clock()
    holds = list_holds(session, now, active_only=active)
    return {"holds": [hold_json(hold, now) for hold in holds]}


@router.post("/holds/{hold_id}/lift", summary="Lift a legal hold")
def lift(
    hold_id: HoldId, body: LiftIn, request: Request, session: Writing, key: WriteKey
) -> dict[str, Any]:
    now = site(request).clock()
    try:
        hold = lift_hold(session, hold_id, lifted_by=body.lifted_by, now=now, actor=key.actor)
    except UnknownHold:
        raise HTTPException(404, "no such legal hold") from None
    except HoldAlreadyLifted as exc:
        raise HTTPException(409, str(exc)) from None
    except HoldInputError as exc:
        raise InvalidInput((exc.field, exc.message)) from None
    return hold_json(hold, now)
