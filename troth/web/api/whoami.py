"""``GET /whoami``: which key a caller is using and what it may do, to check a setup."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from troth.apikeys import SCOPES, AuthenticatedKey

from .auth import require_key

router = APIRouter(tags=["keys"])


class WhoAmI(BaseModel):
    key_id: str = Field(description="The key's public id (the part after `troth_`)")
    name: str = Field(description="The name given when the key was created")
    scopes: list[str] = Field(description="The scopes the key holds")


@router.get("/whoami", summary="The calling key: its id, name and scopes")
async def whoami(key: AuthenticatedKey = Depends(require_key())) -> WhoAmI:
    """Answers any valid key, whatever its scopes: a quick check that a caller is set up."""
    scopes = [scope for scope in SCOPES if key.allows(scope)]
    return WhoAmI(key_id=key.id, name=key.name, scopes=scopes)
