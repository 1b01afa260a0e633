"""The retention periods agreed with the company's clients over JSON (P17):
``GET /clients/overrides``, ``GET /clients/{client}/overrides``, and
``PUT|DELETE /clients/{client}/overrides/{rule}``.

Each route parses, calls one service of troth.vault (``list_overrides``, ``set_override``,
``clear_override``), which checks the client's key, the rule and the period, recomputes the
client's deadlines and writes the audit event, and answers. See docs/retention.md#clients.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from troth.apikeys import AuthenticatedKey
from troth.declaration import Policy
from troth.vault import (
    ClientOverride,
    OverrideChanged,
    OverrideRefused,
    UnknownOverride,
    clear_override,
    client_key_problem,
    list_overrides,
    set_override,
)
from troth.vault.clients import allows_override
from troth.vault.models import PERIOD_MAX_LENGTH

from ..site import site
from .auth import require_scope
from .errors import InvalidInput
from .sessions import Reading, Writing

router = APIRouter(tags=["retention"])

WriteKey = Annotated[AuthenticatedKey, Depends(require_scope("retention:write"))]
ReadKey = Annotated[AuthenticatedKey, Depends(require_scope("retention:read"))]
ClientKey = Annotated[
    str,
    Path(
        description="The client's key, as collect takes it: lower-case letters, digits and "
        "`_`, parts joined by `.` (`acme_logistics`)."
    ),
]
RuleKey = Annotated[
    str, Path(description="A retention rule of the declaration with `per_client_override: true`.")
]
# Where each input a refusal names is sent.
LOCATIONS = {"client": "path", "rule": "path", "period": "body"}


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(
        max_length=PERIOD_MAX_LENGTH,
        description="The agreed period, an ISO 8601 duration (`P90D`, `P1Y`, `P18M`); not zero.",
        examples=["P90D"],
    )


def refused(exc: OverrideRefused) -> InvalidInput:
    return InvalidInput((exc.field, exc.message), location=LOCATIONS[exc.field])


def override_json(row: ClientOverride, policy: Policy) -> dict[str, Any]:
    return {
        "client": row.client,
        "rule": row.rule,
        "period": row.period,
        "set_at": row.set_at.isoformat(),
        "policy_version": row.policy_version,
        "applied": allows_override(policy, row.rule),
    }


def changed_json(changed: OverrideChanged) -> dict[str, Any]:
    return {
        "client": changed.client,
        "rule": changed.rule,
        "period": changed.period.iso() if changed.period is not None else None,
        "previous": changed.previous.iso() if changed.previous is not None else None,
        "items_updated": changed.items_updated,
    }


@router.get("/clients/overrides", summary="Every period agreed with a client, by client and rule")
def read_all(request: Request, session: Reading, _key: ReadKey) -> dict[str, Any]:
    policy = site(request).policy
    return {"overrides": [override_json(row, policy) for row in list_overrides(session)]}


@router.get("/clients/{client}/overrides", summary="The periods agreed with one client")
def read_client(
    client: ClientKey, request: Request, session: Reading, _key: ReadKey
) -> dict[str, Any]:
    problem = client_key_problem(client)
    if problem is not None:
        raise InvalidInput(("client", problem), location="path")
    policy = site(request).policy
    rows = list_overrides(session, client)
    return {"client": client, "overrides": [override_json(row, policy) for row in rows]}


@router.put(
    "/clients/{client}/overrides/{rule}",
    summary="Set the period agreed with a client for a rule; recompute its items' deadlines",
)
def put_override(
    client: ClientKey,
    rule: RuleKey,
    body: PeriodIn,
    request: Request,
    session: Writing,
    key: WriteKey,
) -> dict[str, Any]:
    s = site(request)
    now = s.clock()
    try:
        changed = set_override(
            session,
            s.policy,
            client=client,
            rule=rule,
            period=body.period,
            now=now,
            actor=key.actor,
        )
    except OverrideRefused as exc:
        raise refused(exc) from None
    return changed_json(changed)


@router.delete(
    "/clients/{client}/overrides/{rule}",
    summary="Clear the period agreed with a client for a rule; back to the rule's own",
)
def delete_override(
    client: ClientKey, rule: RuleKey, request: Request, session: Writing, key: WriteKey
) -> dict[str, Any]:
    s = site(request)
    now = s.clock()
    try:
        changed = clear_override(
            session, s.policy, client=client, rule=rule, now=now, actor=key.actor
        )
    except OverrideRefused as exc:
        raise refused(exc) from None
    except UnknownOverride:
        raise HTTPException(404, "no period is agreed with this client for this rule") from None
    return changed_json(changed)
