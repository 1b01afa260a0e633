"""The decision over HTTP: ``GET /api/v1/decisions`` and the batch ``POST /api/v1/decisions``.

Both answer from the app's :class:`~troth.consent.DecisionCache`; a warm answer costs no
database query.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from troth.apikeys import AuthenticatedKey
from troth.consent import Decision, DecisionCache

from ..site import site
from .auth import require_scope

router = APIRouter(tags=["decisions"])
MAX_QUERIES = 1000
SUBJECT_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class DecisionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(pattern=SUBJECT_PATTERN, description="The subject's troth id.")
    purpose: str = Field(max_length=200)


class DecisionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[DecisionQuery] = Field(min_length=1, max_length=MAX_QUERIES)


def _cache(request: Request) -> DecisionCache:
    decisions = site(request).decisions
    if decisions is None:
        raise HTTPException(status_code=503, detail="decisions are not available")
    return decisions


@router.get("/decisions", summary="May I? One subject and purpose")
async def decide_one(
    request: Request,
    subject: Annotated[str, Query(pattern=SUBJECT_PATTERN, description="The subject's troth id.")],
    purpose: Annotated[str, Query(max_length=200, description="A purpose key.")],
    _key: Annotated[AuthenticatedKey, Depends(require_scope("decide"))],
) -> Response:
    """``{"subject", "allowed", "reason", "explanation", "purpose", "basis", "record_id",
    "until"}``; see docs/consent.md for every reason."""
    # Answered on the event loop when warm; a cold subject is loaded in the thread pool. The
    # body is the subject (already checked to be a UUID) and the decision's JSON, serialised
    # once per decision: this is the hot path.
    cache = _cache(request)
    decision = cache.peek(subject, purpose)
    if decision is None:
        decision = await run_in_threadpool(cache.allows, subject, purpose)
    return Response(
        b'{"subject":"' + subject.encode() + b'",' + _decision_json(decision)[1:],
        media_type="application/json",
    )


@lru_cache(maxsize=65536)
def _decision_json(decision: Decision) -> bytes:
    return json.dumps(decision.as_dict(), separators=(",", ":")).encode()


@router.post("/decisions", summary="May I? Many subjects and purposes at once")
def decide_many(
    body: DecisionsIn,
    request: Request,
    _key: Annotated[AuthenticatedKey, Depends(require_scope("decide"))],
) -> dict[str, Any]:
    cache = _cache(request)
    return {
        "decisions": [
            {"subject": q.subject, **cache.allows(q.subject, q.purpose).as_dict()}
            for q in body.queries
        ]
    }
