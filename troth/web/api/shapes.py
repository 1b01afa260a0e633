"""Shapes the API's routes share: a strict request body, and a troth id in the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, ConfigDict

# troth's ids are lower-case UUIDs
ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class Strict(BaseModel):
    """A request body that refuses fields it does not declare (422 naming them)."""

    model_config = ConfigDict(extra="forbid")


def troth_id(what: str) -> object:
    """A path parameter holding the troth id of ``what`` ("the hold's")."""
    return Path(description=f"{what} troth id (a UUID).", pattern=ID_PATTERN)


SubjectId = Annotated[str, troth_id("The subject's")]
