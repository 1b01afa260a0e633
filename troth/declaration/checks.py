"""Checks a valid-shaped declaration for what its types cannot say: keys, taxonomy and
references here; broken promises in :mod:`.checks_promises` (errors, fail closed); promises
weaker than a claimed law in :mod:`.checks_laws` (warnings)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from .checks_laws import check_profile
from .checks_promises import PROMISE_CHECKS
from .model import BUILTIN_EVENTS, Declaration
from .problems import Finding, Path, error
from .profiles import PROFILES
from .taxonomy import Tree, fides_keys, fides_parent

THIRD_PARTY_ADVERTISING = "marketing.advertising.third_party"


def check_declaration(decl: Declaration, today: date) -> list[Finding]:
    findings: list[Finding] = []
    for check in (
        _unique_keys,
        _taxonomy,
        _references,
        *PROMISE_CHECKS,
    ):
        findings.extend(check(decl, today))
    for index, key in enumerate(decl.organization.jurisdictions):
        findings.extend(
            check_profile(decl, PROFILES[key], ("organization", "jurisdictions", index))
        )
    return findings


def _unique_keys(decl: Declaration, today: date) -> Iterator[Finding]:
    sections: dict[str, Iterable[str]] = {
        "subjects": (s.key for s in decl.subjects),
        "categories": (c.key for c in decl.categories),
        "sources": (s.key for s in decl.sources),
        "purposes": (p.key for p in decl.purposes),
        "recipients": (r.key for r in decl.recipients),
        "events": (e.key for e in decl.events),
        "retention": (r.key for r in decl.retention),
        "staff_roles": (r.key for r in decl.staff_roles),
    }
    for section, keys in sections.items():
        seen: dict[str, int] = {}
        for index, key in enumerate(keys):
            if key in seen:
                yield error(
                    (section, index, "key"),
                    f"{section}: key '{key}' is declared twice (first at item {seen[key] + 1})",
                )
            seen.setdefault(key, index)
    offered: set[str] = set()
    for index, offer in enumerate(decl.rights.offered):
        if offer.right in offered:
            yield error(("rights", "offered", index), f"right '{offer.right}' is offered twice")
        offered.add(offer.right)
    if decl.cookies:
        names: set[str] = set()
        for index, cookie in enumerate(decl.cookies.cookies):
            if cookie.name in names:
                yield error(("cookies", "cookies", index, "name"), f"cookie '{cookie.name}' twice")
            names.add(cookie.name)


def _taxonomy_key(key: str, tree: Tree, declared: set[str], path: Path) -> Iterator[Finding]:
    if key in fides_keys(tree):
        return
    label = {"data_category": "data category", "data_use": "data use", "data_subject": "subject"}
    if fides_parent(key, tree) is None:
        roots = sorted({k.split(".")[0] for k in fides_keys(tree)})
        yield error(
            path,
            f"unknown taxonomy key '{key}': a {label[tree]} must be a Fides key or a custom key "
            f"under one (Fides roots: {', '.join(roots)})",
        )
        return
    parent = key.rsplit(".", 1)[0]
    if parent not in fides_keys(tree) and parent not in declared:
        yield error(
            path,
            f"custom {label[tree]} '{key}' sits under '{parent}', which is neither a Fides key "
            "nor declared here",
        )


def _taxonomy(decl: Declaration, today: date) -> Iterator[Finding]:
    categories = {c.key for c in decl.categories}
    subjects = {s.key for s in decl.subjects}
    for i, c in enumerate(decl.categories):
        yield from _taxonomy_key(c.key, "data_category", categories, ("categories", i, "key"))
    for i, s in enumerate(decl.subjects):
        yield from _taxonomy_key(s.key, "data_subject", subjects, ("subjects", i, "key"))
    for i, p in enumerate(decl.purposes):
        yield from _taxonomy_key(p.data_use, "data_use", set(), ("purposes", i, "data_use"))


def _refs(
    values: Iterable[str], known: set[str], path: Path, what: str, owner: str
) -> Iterator[Finding]:
    for index, value in enumerate(values):
        if value not in known:
            yield error(
                (*path, index),
                f"{owner} refers to {what} '{value}', which is not declared under "
                f"{_SECTIONS[what]}",
            )


_SECTIONS = {"category": "categories", "subject": "subjects", "purpose": "purposes"}


def _references(decl: Declaration, today: date) -> Iterator[Finding]:
    cats = {c.key for c in decl.categories}
    subs = {s.key for s in decl.subjects}
    purps = {p.key for p in decl.purposes}
    events = set(BUILTIN_EVENTS) | {e.key for e in decl.events}
    for i, s in enumerate(decl.sources):
        owner = f"source '{s.key}'"
        yield from _refs(s.categories, cats, ("sources", i, "categories"), "category", owner)
        yield from _refs(s.subjects, subs, ("sources", i, "subjects"), "subject", owner)
    for i, p in enumerate(decl.purposes):
        owner = f"purpose '{p.key}'"
        yield from _refs(p.categories, cats, ("purposes", i, "categories"), "category", owner)
        yield from _refs(p.subjects, subs, ("purposes", i, "subjects"), "subject", owner)
    for i, r in enumerate(decl.recipients):
        owner = f"recipient '{r.key}'"
        yield from _refs(r.categories, cats, ("recipients", i, "categories"), "category", owner)
        yield from _refs(r.purposes, purps, ("recipients", i, "purposes"), "purpose", owner)
    for i, rule in enumerate(decl.retention):
        owner = f"retention rule '{rule.key}'"
        scope = ("retention", i, "applies_to")
        applies = rule.applies_to
        yield from _refs(applies.categories, cats, (*scope, "categories"), "category", owner)
        yield from _refs(rule.applies_to.purposes, purps, (*scope, "purposes"), "purpose", owner)
        yield from _refs(rule.applies_to.subjects, subs, (*scope, "subjects"), "subject", owner)
        if rule.starts_at not in events:
            yield error(
                ("retention", i, "starts_at"),
                f"retention rule '{rule.key}' starts its clock at '{rule.starts_at}', which is "
                f"neither a built-in event ({', '.join(BUILTIN_EVENTS)}) nor declared under events",
            )
    for i, role in enumerate(decl.staff_roles):
        owner = f"staff role '{role.key}'"
        yield from _refs(role.purposes, purps, ("staff_roles", i, "purposes"), "purpose", owner)
        yield from _refs(role.categories, cats, ("staff_roles", i, "categories"), "category", owner)
        readable = {c for p in decl.purposes if p.key in role.purposes for c in p.categories}
        for j, category in enumerate(role.categories):
            if category in cats and category not in readable:
                yield error(
                    ("staff_roles", i, "categories", j),
                    f"{owner} lists category '{category}', which none of its purposes uses: "
                    "a read names a purpose, so this category could never be read",
                )
    if decl.cookies:
        for i, cat in enumerate(decl.cookies.categories):
            owner = f"cookie category '{cat.key}'"
            yield from _refs(
                cat.purposes, purps, ("cookies", "categories", i, "purposes"), "purpose", owner
            )
        declared = {c.key for c in decl.cookies.categories}
        for i, cookie in enumerate(decl.cookies.cookies):
            if declared and cookie.category not in declared:
                yield error(
                    ("cookies", "cookies", i, "category"),
                    f"cookie '{cookie.name}' is in category '{cookie.category}', which is not "
                    "declared under cookies.categories",
                )
