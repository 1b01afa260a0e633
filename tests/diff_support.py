"""Helpers for the diff tests: variants of the Kestrel example, edited as a person would."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from support import kestrel_data

from troth.declaration.diff import diff_declarations
from troth.declaration.model import Declaration

KESTREL = kestrel_data()
PURPOSE_KEYS = [p["key"] for p in KESTREL["purposes"]]
Edit = Callable[[Any], object]
Case = tuple[Edit | None, Edit, list[str]]  # old edit, new edit, the whole expected diff


def declaration(edit: Edit | None = None) -> Declaration:
    """The Kestrel example, optionally edited, as a validated declaration."""
    data = copy.deepcopy(KESTREL)
    if edit is not None:
        edit(data)
    return Declaration.model_validate(data)


def diff(old_edit: Edit | None, new_edit: Edit | None) -> list[tuple[str, str]]:
    changes = diff_declarations(declaration(old_edit), declaration(new_edit))
    return [(c.kind, c.message) for c in changes]


def cookie(data: Any, name: str) -> Any:
    return next(c for c in data["cookies"]["cookies"] if c["name"] == name)


def set_offer(data: Any, right: str, **deadlines: str) -> None:
    offered = data["rights"]["offered"]
    index = next(
        i
        for i, o in enumerate(offered)
        if o == right or (isinstance(o, dict) and o["right"] == right)
    )
    offered[index] = {"right": right, **deadlines}


def without_purposes(data: Any, removed: set[str]) -> None:
    """Drop purposes and every reference to them, as an editor would."""
    data["purposes"] = [p for p in data["purposes"] if p["key"] not in removed]
    for recipient in data["recipients"]:
        recipient["purposes"] = [p for p in recipient["purposes"] if p not in removed]
    for rule in data["retention"]:
        scope = rule["applies_to"]
        scope["purposes"] = [p for p in scope.get("purposes", []) if p not in removed]
    data["retention"] = [r for r in data["retention"] if any(r["applies_to"].values())]
    for category in data["cookies"]["categories"]:
        category["purposes"] = [p for p in category.get("purposes", []) if p not in removed]
