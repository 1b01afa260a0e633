"""The decision over HTTP: ``GET /api/v1/decisions`` and the batch ``POST /api/v1/decisions``.

Both answer from the app's :class:`~troth.consent.DecisionCache`; a warm answer costs no
database query.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from troth.apikeys import AuthenticatedKey
from troth.consent import Decision, DecisionCache

from ..site import site
from .auth import require_scope
from .errors import InvalidInput
from .shapes import ID_PATTERN

router = APIRouter(tags=["decisions"])
MAX_QUERIES = 1000


class DecisionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(pattern=ID_PATTERN, description="The subject's troth id.")
    purpose: str = Field(max_length=200)


class DecisionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[DecisionQuery] = Field(min_length=1, max_length=MAX_QUERIES)


def _cache(request: Request) -> DecisionCache:
    decisions = site(request).decisions
    if decisions is None:
        raise HTTPException(status_code=503, detail="decisions are not available")
    return decisions


_QUERY_PARAMETERS = [
    {
        "name": "subject",
        "in": "query",
        "required": True,
        "description": "The subject's troth id (a UUID).",
        "schema": {"type": "string", "pattern": ID_PATTERN},
    },
    {
        "name": "purpose",
        "in": "query",
        "required": True,
        "description": "A purpose key.",
        "schema": {"type": "string", "maxLength": 200},
    },
]
_SUBJECT = re.compile(ID_PATTERN)


@router.get(
    "/decisions",
    summary="May I? One subject and purpose",
    openapi_extra={"parameters": _QUERY_PARAMETERS},
)
async def decide_one(
    request: Request,
    _key: Annotated[AuthenticatedKey, Depends(require_scope("decide"))],
) -> Response:
    """``{"subject", "allowed", "reason", "explanation", "purpose", "basis", "record_id",
    "until"}``; see docs/consent.md for every reason."""
    # The hot path. The two query parameters are read by hand rather than declared (FastAPI's
    # parameter machinery costs more than the rest of the request); the OpenAPI document still
    # describes them. Answered on the event loop when warm; a cold subject is loaded in the
    # thread pool. The body is the subject and the decision's JSON, serialised once.
    query = request.query_params
    subject = query.get("subject")
    purpose = query.get("purpose")
    problems = []
    if subject is None:
        problems.append(("subject", "Field required"))
    elif not _SUBJECT.fullmatch(subject):
        problems.append(("subject", "expected a subject's troth id (a UUID)"))
    if purpose is None:
        problems.append(("purpose", "Field required"))
    elif len(purpose) > 200:
        problems.append(("purpose", "longer than 200 characters"))
    if problems:
        raise InvalidInput(*problems, location="query")
    assert subject is not None and purpose is not None
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
    pairs = [(q.subject, q.purpose) for q in body.queries]
    decisions = _cache(request).decide_many(pairs)
    return {
        "decisions": [
            {"subject": subject, **decision.as_dict()}
            for (subject, _), decision in zip(pairs, decisions, strict=True)
        ]
    }
