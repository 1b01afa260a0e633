"""The walk behind ``troth diff``: two declarations compared field by field, generically.

Every field of every section and item is visited, so a field added to the model is compared
without new code. What a change of a field *means* (material or minor, and its words) is said by a
rule looked up by model and field name: the kinds of rule are in
:mod:`troth.declaration.diff_rules`, the table in :mod:`troth.declaration.diff`. A field without a
rule goes to ``Walk.fallback``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel

from .durations import Duration
from .model import Declaration
from .policy import rule_categories


@dataclass(frozen=True)
class Change:
    """One difference between two declarations, in words a privacy officer reads.

    ``section`` is the top-level part of the declaration (``purposes``, ``rights``); ``key`` names
    the thing within it: an item's key (a purpose key, a cookie name, a right), or for a section
    without items the field that changed.
    """

    material: bool
    section: str
    key: str | None
    message: str

    @property
    def kind(self) -> Literal["material", "minor"]:
        return "material" if self.material else "minor"


@dataclass(frozen=True)
class Place:
    """Where a compared field sits and how a message names its owner."""

    section: str
    key: str | None
    noun: str  # "Purpose", "Organization"
    label: str  # how messages name the owner: "Recipient Postmark", "Children"
    name: str  # the owner's own name ("Financial records"), or the label
    old: Any  # the models holding the field, before and after
    new: Any
    item_old: Any = None  # the nearest keyed item (the retention rule of a scope)
    item_new: Any = None


@dataclass
class Walk:
    """One comparison in progress: both declarations, the rules, and the changes found so far."""

    old: Declaration
    new: Declaration
    rules: Mapping[tuple[str, str], Rule]
    item_checks: Mapping[str, Sequence[Callable[[Walk, Place], None]]]
    fallback: Callable[[Any, Any], Rule]
    changes: list[Change] = field(default_factory=list)

    def add(self, place: Place, field_name: str, material: bool, message: str) -> None:
        section = place.section or field_name
        key = place.key if place.key is not None else (field_name if place.section else None)
        self.changes.append(Change(material, section, key, message))

    def name_of(self, collection: str, key: str) -> str:
        """An item's name by its key (the newer name if it has one), for messages."""
        for declaration in (self.new, self.old):
            for item in getattr(declaration, collection):
                if item.key == key:
                    return str(item.name)
        return key

    @cached_property
    def longest_retention_old(self) -> dict[str, float]:
        return longest_retention(self.old)

    def kept_longer(self, categories: Iterable[str], period: Duration) -> bool:
        """Whether ``period`` keeps any of these categories, already limited before (directly or
        through a broader category), longer than any retention rule did."""
        before, days = self.longest_retention_old, period.approx_days()
        for category in categories:
            limits = [d for k, d in before.items() if category == k or category.startswith(k + ".")]
            if limits and days > max(limits):
                return True
        return False


Rule = Callable[[Walk, Place, str, Any, Any], None]


def longest_retention(declaration: Declaration) -> dict[str, float]:
    """The longest period (in days) any retention rule keeps each category."""
    longest: dict[str, float] = {}
    for rule in declaration.retention:
        days = rule.period.approx_days()
        for category in rule_categories(declaration, rule):
            longest[category] = max(longest.get(category, 0.0), days)
    return longest


def compare(walk: Walk, place: Place, old: BaseModel, new: BaseModel) -> None:
    """Compare two versions of one model field by field, each through its rule."""
    for name in type(new).model_fields:
        before, after = getattr(old, name, None), getattr(new, name, None)
        if before == after:
            continue
        rule = walk.rules.get((type(new).__name__, name)) or walk.fallback(before, after)
        rule(walk, place, name, before, after)
    for check in walk.item_checks.get(type(new).__name__, ()):
        check(walk, place)


# Words -------------------------------------------------------------------------------------------


def words(value: object) -> str:
    """A declaration value as words: ``legitimate_interest`` -> "legitimate interest"."""
    return "none" if value is None else plain(value).replace("_", " ")


def plain(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return join([plain(v) for v in value]) or "none"
    if hasattr(value, "words"):
        return str(value.words())
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def field_words(name: str) -> str:
    return name.replace("_", " ")


def quoted(text: str, limit: int = 80) -> str:
    flat = " ".join(str(text).split())
    return f"'{flat if len(flat) <= limit else flat[: limit - 1] + '…'}'"


def merged_order(old: list[str], new: list[str]) -> list[str]:
    """Document order over both versions: the new order, each removed item after the item that
    preceded it in the old version."""
    survivors = set(new)
    after_item: dict[str | None, list[str]] = {}
    anchor: str | None = None
    for key in old:
        if key in survivors:
            anchor = key
        else:
            after_item.setdefault(anchor, []).append(key)
    order = list(after_item.get(None, []))
    for key in new:
        order.append(key)
        order.extend(after_item.get(key, []))
    return order
