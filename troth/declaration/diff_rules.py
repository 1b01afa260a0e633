"""Kinds of rule for ``troth diff``: how one field's change is worded and classified.

A rule is told the field's old and new value and where it sits, and adds :class:`Change` lines to
the walk: is a longer duration worse or better, is a flag a promise or a risk, is a gained member
more processing. A field nobody has classified gets :func:`fallback`, which calls every change
material: a needless notification costs little, a missed one cannot be undone.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from .diff_walk import (
    Place,
    Rule,
    Walk,
    compare,
    field_words,
    join,
    merged_order,
    plain,
    quoted,
    words,
)

Decision = bool | Callable[[Walk, Place], bool]


def _decide(decision: Decision, walk: Walk, place: Place) -> bool:
    return decision if isinstance(decision, bool) else decision(walk, place)


def _setting_message(
    place: Place, what: str, before: Any, after: Any, show: Callable[[Any], str]
) -> str:
    if before is None:
        return f"{place.label}: {what} set to {show(after)}"
    if after is None:
        return f"{place.label}: {what} removed (was {show(before)})"
    return f"{place.label}: {what} changed from {show(before)} to {show(after)}"


# Kinds of rule -----------------------------------------------------------------------------------


def setting(
    material: bool,
    what: str | None = None,
    show: Callable[[Any], str] = plain,
    added: bool | None = None,
    removed: bool | None = None,
) -> Rule:
    """A value whose every change has one class (``added``/``removed`` override it when the
    value appears or disappears)."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        decided = added if before is None else removed if after is None else None
        message = _setting_message(place, what or field_words(name), before, after, show)
        walk.add(place, name, material if decided is None else decided, message)

    return rule


def wording(what: str | None = None) -> Rule:
    """Names, descriptions and notes: always minor, since the practice itself is unchanged."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        text = what or field_words(name)
        if name == "name" and before and after:
            owner = f"{place.noun} {place.key}" if place.key else place.noun
            message = f"{owner} renamed from {quoted(before)} to {quoted(after)}"
        elif before is None or after is None:
            message = f"{place.label}: {text} {'added' if before is None else 'removed'}"
        elif max(len(str(before)), len(str(after))) <= 60:
            message = f"{place.label}: {text} changed from {quoted(before)} to {quoted(after)}"
        else:
            message = f"{place.label}: {text} reworded"
        walk.add(place, name, False, message)

    return rule


def flag(template: str, on_material: bool, off_material: bool) -> Rule:
    """A yes/no field; ``template`` reads with ``{now}`` as "now" or "no longer"."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        on = bool(after)
        message = template.format(label=place.label, now="now" if on else "no longer")
        walk.add(place, name, on_material if on else off_material, message)

    return rule


def promise(template: str) -> Rule:
    """A protective flag (encryption, GPC honoured): turning it off is material."""
    return flag(template, on_material=False, off_material=True)


def risk(template: str) -> Rule:
    """A widening flag (sale, third-party cookie): turning it on is material."""
    return flag(template, on_material=True, off_material=False)


def duration(
    what: str,
    worse: Literal["longer", "shorter"] = "longer",
    none_means: Literal["never", "zero"] = "never",
    longer: str = "lengthened",
    shorter: str = "shortened",
    template: str = "{label}: {what} {verb} from {old} to {new}",
) -> Rule:
    """A duration; material when it moves in the ``worse`` direction. ``none_means`` says how an
    absent duration counts: "never" (no limit) or "zero" (none at all)."""

    def days(value: Any) -> float:
        if value is None:
            return math.inf if none_means == "never" else 0.0
        return 0.0 if value == "session" else float(value.approx_days())

    def show(value: Any) -> str:
        if value is None:
            return "no limit" if none_means == "never" else "none"
        return "session" if value == "session" else str(value.words())

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        old_days, new_days = days(before), days(after)
        if old_days == new_days:
            verb, material = "changed", False  # same length written differently (P12M, P1Y)
        elif new_days > old_days:
            verb, material = longer, worse == "longer"
        else:
            verb, material = shorter, worse == "shorter"
        message = template.format(
            label=place.label,
            name=place.name,
            what=what,
            verb=verb,
            old=show(before),
            new=show(after),
        )
        walk.add(place, name, material, message)

    return rule


def ranked(order: Sequence[Any], what: str | None = None) -> Rule:
    """A choice ranked from least to most protective; moving down the ranking is material."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        weaker = (
            after not in order or before not in order or order.index(after) < order.index(before)
        )
        message = _setting_message(place, what or field_words(name), before, after, words)
        walk.add(place, name, weaker, message)

    return rule


def threshold(what: str) -> Rule:
    """A number where lower protects less (the age below which someone is a child)."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        verb = "lowered" if after < before else "raised"
        walk.add(
            place, name, after < before, f"{place.label}: {what} {verb} from {before} to {after}"
        )

    return rule


def members(
    gained: str,
    lost: str,
    gained_material: Decision = True,
    lost_material: Decision = False,
    names: str | None = None,
    show: Callable[[Any], str] = words,
) -> Rule:
    """A set of keys (a purpose's categories). Templates read ``{label}`` and ``{items}``; items
    are named from the ``names`` collection when given. Order alone is no change."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        before, after = tuple(before or ()), tuple(after or ())
        for keys, template, decision in (
            ([k for k in after if k not in before], gained, gained_material),
            ([k for k in before if k not in after], lost, lost_material),
        ):
            if keys:
                items = join([walk.name_of(names, k) if names else show(k) for k in keys])
                message = template.format(label=place.label, items=items)
                walk.add(place, name, _decide(decision, walk, place), message)

    return rule


def statements(what: str, gained_material: bool = False, lost_material: bool = True) -> Rule:
    """Free-text statements (security measures). A removed statement close to an added one is
    reported as reworded (minor), not as a removal."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        added = [s for s in after if s not in before]
        for text in (s for s in before if s not in after):
            similar = difflib.get_close_matches(text, added, n=1, cutoff=0.6)
            if similar:
                added.remove(similar[0])
                walk.add(
                    place, name, False, f"{place.label}: {what} reworded: {quoted(similar[0])}"
                )
            else:
                message = f"{place.label}: {what} no longer stated: {quoted(text)}"
                walk.add(place, name, lost_material, message)
        for text in added:
            walk.add(place, name, gained_material, f"{place.label}: new {what}: {quoted(text)}")

    return rule


def derived(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
    """A field compared through what it decides, by an item check (``consent_required`` through
    whether a purpose needs consent; a right's own deadlines through the effective ones)."""


def section(
    noun: str,
    label: Callable[[Any], str] | None = None,
    added: str | Callable[[Any], str] | None = None,
    removed: str | Callable[[Any], str] | None = None,
    added_material: bool = True,
    removed_material: bool = True,
    empty: Callable[[Any], Any] | None = None,
    inherit_label: bool = False,
) -> Rule:
    """A singleton part (``organization``, ``children``), compared field by field. When it appears
    or disappears, the ``added``/``removed`` line is reported; without a removal line the present
    side is compared against ``empty(present)``, so its items show one by one. A part of an item
    (a retention rule's scope) with ``inherit_label`` is named as the item is."""

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        present = after if after is not None else before
        top = not place.section
        own = label(present) if label else noun
        sub = Place(
            section=name if top else place.section,
            key=None if top else (place.key if place.key is not None else name),
            noun=place.noun if inherit_label else noun,
            label=place.label if inherit_label else own,
            name=place.name if inherit_label else own,
            old=before,
            new=after,
            item_old=place.item_old,
            item_new=place.item_new,
        )
        if before is not None and after is not None:
            compare(walk, sub, before, after)
            return
        text, material = (added, added_material) if before is None else (removed, removed_material)
        if text is None and empty is None:
            text = f"{noun} section {'added' if before is None else 'removed'}"
        if text is not None:
            walk.add(place, name, material, text(present) if callable(text) else text)
        if empty is not None and (before is None or removed is None):
            blank = empty(present)
            compare(
                walk, sub, blank if before is None else before, blank if after is None else after
            )

    return rule


@dataclass(frozen=True)
class Collection:
    """A list of items matched by identity (``key``, a cookie's ``name``, a ``right``)."""

    noun: str
    identity: str = "key"
    added_material: Decision = True
    removed_material: Decision = False
    detail: Callable[[Any], str] | None = None  # appended to "New <noun>: <title>"
    added_text: Callable[[Any], str] | None = None
    removed_text: Callable[[Any], str] | None = None
    label: Callable[[Any], str] | None = None  # how a changed item is named


def keyed(spec: Collection) -> Rule:
    noun = spec.noun[:1].upper() + spec.noun[1:]

    def title(item: Any, ident: str) -> str:
        name = getattr(item, "name", None)
        return f"{name} ({ident})" if name and name != ident else ident

    def rule(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
        olds = {identity(item, spec.identity, i): item for i, item in enumerate(before or ())}
        news = {identity(item, spec.identity, i): item for i, item in enumerate(after or ())}
        for ident in merged_order(list(olds), list(news)):
            old, new = olds.get(ident), news.get(ident)
            item = new if new is not None else old
            own_name = str(getattr(item, "name", ident))
            item_place = Place(
                section=place.section or name,
                key=ident,
                noun=noun,
                label=spec.label(item) if spec.label else f"{noun} {own_name}",
                name=own_name,
                old=old,
                new=new,
                item_old=old,
                item_new=new,
            )
            if old is None:
                text = spec.added_text(new) if spec.added_text else None
                detail = spec.detail(new) if spec.detail else ""
                message = text or f"New {spec.noun}: {title(new, ident)}{detail}"
                walk.add(item_place, name, _decide(spec.added_material, walk, item_place), message)
            elif new is None:
                text = spec.removed_text(old) if spec.removed_text else None
                message = text or f"{noun} removed: {title(old, ident)}"
                decision = _decide(spec.removed_material, walk, item_place)
                walk.add(item_place, name, decision, message)
            elif old != new:
                compare(walk, item_place, old, new)

    return rule


def identity(item: Any, field_name: str | None, index: int) -> str:
    if field_name and hasattr(item, field_name):
        return str(getattr(item, field_name))
    return f"#{index + 1}"


def fallback(before: Any, after: Any) -> Rule:
    """The rule for a field nobody has classified yet: compared by shape, every change material."""
    sample = after if after is not None else before
    if isinstance(sample, BaseModel):
        return section(type(sample).__name__)
    if isinstance(sample, tuple):
        items = (*(before or ()), *(after or ()))
        if any(isinstance(i, BaseModel) for i in items):
            fields = type(next(i for i in items if isinstance(i, BaseModel))).model_fields
            ident = next((f for f in ("key", "name", "right", "region") if f in fields), None)
            return keyed(Collection("item", identity=ident or "", removed_material=True))
        return members("{label}: added {items}", "{label}: removed {items}", True, True)
    return setting(True)
