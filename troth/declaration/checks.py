"""Checks a valid-shaped declaration for what its types cannot say: taxonomy keys, references,
broken promises (errors, fail closed) and promises weaker than a claimed law (warnings)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

from .durations import Duration
from .model import BUILTIN_EVENTS, Declaration, Purpose, Rights, Source
from .problems import Finding, Path
from .profiles import PROFILES, JurisdictionProfile, calendar_days
from .taxonomy import Tree, fides_keys, fides_parent, is_under

THIRD_PARTY_ADVERTISING = "marketing.advertising.third_party"


def error(path: Path, message: str) -> Finding:
    return Finding(path, "error", message)


def warning(path: Path, message: str) -> Finding:
    return Finding(path, "warning", message)


def check_declaration(decl: Declaration, today: date) -> list[Finding]:
    findings: list[Finding] = []
    for check in (
        _unique_keys,
        _taxonomy,
        _references,
        _never_sells,
        _forbidden_not_collected,
        _consent_flags,
        _retention_coverage,
        _children,
        _transfers,
        _recipient_reviews,
        _cookies,
        _contacts,
    ):
        findings.extend(check(decl, today))
    for index, key in enumerate(decl.organization.jurisdictions):
        findings.extend(_profile(decl, PROFILES[key], ("organization", "jurisdictions", index)))
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


def _never_sells(decl: Declaration, today: date) -> Iterator[Finding]:
    if not decl.organization.never_sells:
        return
    uses = {p.key: p.data_use for p in decl.purposes}
    for i, p in enumerate(decl.purposes):
        if is_under(p.data_use, THIRD_PARTY_ADVERTISING):
            yield error(
                ("purposes", i, "data_use"),
                f"purpose '{p.key}' is third-party advertising ({p.data_use}), but the "
                "organization promises never to sell or trade personal data (never_sells, P21)",
            )
    for i, r in enumerate(decl.recipients):
        if r.sale:
            yield error(
                ("recipients", i, "sale"),
                f"recipient '{r.name}' is declared as buying personal data, but the organization "
                "promises never to sell it (organization.never_sells, P21)",
            )
        for j, purpose in enumerate(r.purposes):
            if is_under(uses.get(purpose, ""), THIRD_PARTY_ADVERTISING):
                yield error(
                    ("recipients", i, "purposes", j),
                    f"recipient '{r.name}' receives data for third-party advertising "
                    f"('{purpose}'), which the never-sell promise forbids (P21)",
                )


def _forbidden_not_collected(decl: Declaration, today: date) -> Iterator[Finding]:
    forbidden = {c.key for c in decl.categories if c.forbidden}
    sections: tuple[tuple[str, tuple[Source | Purpose, ...]], ...] = (
        ("sources", decl.sources),
        ("purposes", decl.purposes),
    )
    for section, items in sections:
        for i, item in enumerate(items):
            for j, cat in enumerate(item.categories):
                if cat in forbidden:
                    yield error(
                        (section, i, "categories", j),
                        f"'{item.key}' uses category '{cat}', which is declared forbidden "
                        "(the organization promises never to store it, P3)",
                    )
    for i, r in enumerate(decl.recipients):
        for j, cat in enumerate(r.categories):
            if cat in forbidden:
                yield error(
                    ("recipients", i, "categories", j),
                    f"recipient '{r.key}' would receive forbidden category '{cat}' (P3)",
                )


def _consent_flags(decl: Declaration, today: date) -> Iterator[Finding]:
    for i, p in enumerate(decl.purposes):
        if p.legal_basis == "consent" and p.consent_required is False:
            yield error(
                ("purposes", i, "consent_required"),
                f"purpose '{p.key}' rests on consent, so consent_required cannot be false",
            )
        bases = {p.legal_basis, *p.legal_basis_by_jurisdiction.values()}
        if "legitimate_interest" in bases and not p.opt_out:
            yield warning(
                ("purposes", i, "opt_out"),
                f"purpose '{p.key}' rests on legitimate interest; people may object to it, so "
                "declare opt_out: true and honour objections",
            )
        if is_under(p.data_use, "marketing") and not (p.needs_consent or p.opt_out):
            yield error(
                ("purposes", i),
                f"marketing purpose '{p.key}' must either need consent or let people opt out (P6)",
            )


def _retention_coverage(decl: Declaration, today: date) -> Iterator[Finding]:
    from .policy import rule_categories

    covered: set[str] = set()
    for rule in decl.retention:
        covered |= rule_categories(decl, rule)
    collected: dict[str, str] = {}
    for kind, items in (("source", decl.sources), ("purpose", decl.purposes)):
        for item in items:
            for cat in item.categories:
                collected.setdefault(cat, f"{kind} '{item.key}'")
    for i, c in enumerate(decl.categories):
        if c.forbidden or c.key not in collected:
            continue
        if not any(is_under(c.key, k) for k in covered):
            yield error(
                ("categories", i, "key"),
                f"category '{c.key}' is collected (by {collected[c.key]}) but no retention rule "
                "covers it; add a rule under retention saying how long it is kept (P17)",
            )


def _children(decl: Declaration, today: date) -> Iterator[Finding]:
    child_subjects = {s.key for s in decl.subjects if s.child}
    method = decl.children.parental_consent_method if decl.children else None
    # Any processing of a child's data needs a parent's consent (DPDP s.9, GDPR art. 8 for
    # consent-based services), so every purpose involving children needs the method declared.
    for i, p in enumerate(decl.purposes):
        if child_subjects & set(p.subjects) and not method:
            yield error(
                ("purposes", i, "subjects"),
                f"purpose '{p.key}' processes children's data but the declaration sets no "
                "children.parental_consent_method (P29)",
            )
    if child_subjects and decl.children is None:
        yield error(
            ("subjects",),
            "children are declared as data subjects but there is no children section "
            "(age threshold, parental consent, P29)",
        )


def _transfers(decl: Declaration, today: date) -> Iterator[Finding]:
    if decl.transfers is None:
        return
    home = decl.transfers.home_region
    routes = {route.region: route.mechanism for route in decl.transfers.allowed}
    for i, r in enumerate(decl.recipients):
        if r.country is None or r.country == home or r.kind == "authority":
            continue
        if home in ("EU", "EEA") and r.country in _EEA:
            continue
        regions = {r.country, "WORLD"}
        if r.country in _EEA:
            regions.add("EEA")
            if r.country not in _EEA_NOT_EU:
                regions.add("EU")
        if not regions & set(routes):
            yield error(
                ("recipients", i, "country"),
                f"recipient '{r.name}' is in {r.country}, outside the home region {home}, and "
                f"{r.country} is not among transfers.allowed (P30)",
            )
        elif r.transfer_mechanism is None:
            yield error(
                ("recipients", i),
                f"recipient '{r.name}' receives data in {r.country}, outside the home region "
                f"{home}, but declares no transfer_mechanism (P30)",
            )


_EEA = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)


_EEA_NOT_EU = frozenset(("IS", "LI", "NO"))


def _recipient_reviews(decl: Declaration, today: date) -> Iterator[Finding]:
    for i, r in enumerate(decl.recipients):
        if r.kind == "processor" and r.contract_date is None:
            yield warning(
                ("recipients", i),
                f"processor '{r.name}' has no contract_date: record when the data processing "
                "agreement was signed (P23)",
            )
        if r.review_date is not None and r.review_date < today:
            yield warning(
                ("recipients", i, "review_date"),
                f"the review of recipient '{r.name}' was due on {r.review_date.isoformat()}",
            )
        if r.kind == "acquirer" and r.prior_notice is None:
            yield warning(
                ("recipients", i),
                f"business transfer to '{r.name}': declare prior_notice, how long before the "
                "transfer subjects are told (P24)",
            )


def _cookies(decl: Declaration, today: date) -> Iterator[Finding]:
    if decl.cookies is None:
        return
    for i, cookie in enumerate(decl.cookies.cookies):
        if cookie.third_party and cookie.category == "essential":
            yield warning(
                ("cookies", "cookies", i),
                f"cookie '{cookie.name}' is set by a third party but declared essential; "
                "essential cookies are set before any choice, so be sure it is strictly necessary",
            )


def _contacts(decl: Declaration, today: date) -> Iterator[Finding]:
    org = decl.organization
    if org.privacy_officer is None and org.grievance_officer is None:
        yield warning(
            ("organization",),
            "no privacy_officer or grievance_officer: name who answers privacy questions (P16)",
        )
    if org.governing_law is None:
        yield warning(("organization",), "governing_law is not stated (P33)")


def _longer(declared: Duration, declared_bd: bool, limit: Duration, limit_bd: bool) -> bool:
    return calendar_days(declared, declared_bd) > calendar_days(limit, limit_bd) + 1e-9


def _profile(decl: Declaration, profile: JurisdictionProfile, where: Path) -> Iterator[Finding]:
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
