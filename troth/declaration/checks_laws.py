"""Promises weaker than a claimed law: each jurisdiction profile's limits against the
declaration's (warnings that name the law)."""

from __future__ import annotations

from collections.abc import Iterator

from .durations import Duration
from .model import Declaration, Rights
from .problems import Finding, Path, warning
from .profiles import JurisdictionProfile, calendar_days


def _longer(declared: Duration, declared_bd: bool, limit: Duration, limit_bd: bool) -> bool:
    return calendar_days(declared, declared_bd) > calendar_days(limit, limit_bd) + 1e-9


def check_profile(
    decl: Declaration, profile: JurisdictionProfile, where: Path
) -> Iterator[Finding]:
    rights = decl.rights
    name = profile.key
    bd = rights.business_days
    for i, offer in enumerate(rights.offered):
        complete = offer.complete_within or rights.complete_within
        limit = profile.grievance_within if offer.right == "grievance" else profile.complete_within
        if limit and _longer(complete, bd, limit, False):
            yield warning(
                ("rights", "offered", i),
                f"{name}: {offer.right} requests are answered within {complete.words()}, but "
                f"{profile.law} allows at most {limit.words()}",
            )
    yield from _acknowledgement(rights, profile)
    yield from _extensions(rights, profile)
    offered = {o.right for o in rights.offered}
    for right in profile.required_rights:
        if right not in offered:
            yield warning(
                ("rights", "offered"),
                f"{name}: {profile.law} gives people the right '{right}', which is not offered",
            )
    for i, p in enumerate(decl.purposes):
        basis = p.basis_under(profile.key)
        if basis in profile.disallowed_bases:
            path: Path = ("purposes", i, "legal_basis")
            if basis != p.legal_basis:
                path = ("purposes", i, "legal_basis_by_jurisdiction", profile.key)
            yield warning(path, f"{name}: purpose '{p.key}': {profile.disallowed_bases[basis]}")
    if decl.children and decl.children.age_threshold < profile.child_age:
        yield warning(
            ("children", "age_threshold"),
            f"{name}: children are those under {profile.child_age} under {profile.law}; the "
            f"declared threshold of {decl.children.age_threshold} is lower",
        )
    if profile.breach_authority_within:
        declared = decl.incidents.notify_authority_within
        if declared is None or declared > profile.breach_authority_within:
            yield warning(
                ("incidents",) if declared is None else ("incidents", "notify_authority_within"),
                f"{name}: a breach must be reported to {profile.regulator} within "
                f"{profile.breach_authority_within.words()}; set incidents.notify_authority_within",
            )
    if profile.grievance_within and decl.organization.grievance_officer is None:
        yield warning(
            where,
            f"{name}: {profile.law} expects a named grievance officer "
            "(organization.grievance_officer)",
        )


def _acknowledgement(rights: Rights, profile: JurisdictionProfile) -> Iterator[Finding]:
    """The default acknowledgement time, and any a single right sets for itself."""
    limit, limit_bd = profile.acknowledge_within, profile.acknowledge_business_days
    if limit is None:
        return
    places: list[tuple[Path, str, Duration]] = [
        (("rights", "acknowledge_within"), "requests", rights.acknowledge_within)
    ]
    places += [
        (
            ("rights", "offered", i, "acknowledge_within"),
            f"{o.right} requests",
            ack,
        )
        for i, o in enumerate(rights.offered)
        if (ack := o.acknowledge_within)
    ]
    for path, what, declared in places:
        if _longer(declared, rights.business_days, limit, limit_bd):
            yield warning(
                path,
                f"{profile.key}: {what} are acknowledged within {declared.words()}, but "
                f"{profile.law} requires {_words(limit, limit_bd)}",
            )


def _extensions(rights: Rights, profile: JurisdictionProfile) -> Iterator[Finding]:
    """The default extension, and any a single right sets for itself."""
    places: list[tuple[Path, Duration]] = []
    if rights.extension:
        places.append((("rights", "extension"), rights.extension))
    places += [
        (("rights", "offered", i, "extension"), ext)
        for i, o in enumerate(rights.offered)
        if (ext := o.extension)
    ]
    for path, declared in places:
        if profile.extension is None:
            yield warning(
                path,
                f"{profile.key}: {profile.law} provides no extension of the deadline to answer",
            )
        elif _longer(declared, rights.business_days, profile.extension, False):
            yield warning(
                path,
                f"{profile.key}: the extension of {declared.words()} exceeds the "
                f"{profile.extension.words()} {profile.law} allows",
            )


def _words(limit: Duration, business_days: bool) -> str:
    words = limit.words()
    if business_days and limit.days and not (limit.years or limit.months or limit.weeks):
        words = words.replace(" day", " business day")
    return words
