"""The Fides taxonomy (data categories, data uses, data subjects) from the ``fideslang`` package.

A declaration may use any Fides key as it is, or add its own key under one (``user.contact.email``
is Fides; ``user.contact.email.work`` is a custom key under it).
"""

from __future__ import annotations

from functools import cache
from typing import Literal

Tree = Literal["data_category", "data_use", "data_subject"]


@cache
def fides_keys(tree: Tree) -> frozenset[str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return frozenset(item.fides_key for item in getattr(DEFAULT_TAXONOMY, tree))


@cache
def fides_names(tree: Tree) -> dict[str, str]:
    from fideslang.default_taxonomy import DEFAULT_TAXONOMY

    return {item.fides_key: item.name or item.fides_key for item in getattr(DEFAULT_TAXONOMY, tree)}


def fides_parent(key: str, tree: Tree) -> str | None:
    """The nearest Fides key that ``key`` is, or sits under; None when it is outside the tree."""
    parts = key.split(".")
    known = fides_keys(tree)
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def is_under(key: str, ancestor: str) -> bool:
    return key == ancestor or key.startswith(ancestor + ".")
