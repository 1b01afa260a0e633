"""Broken promises: what a declaration says it does that its own parts contradict (errors).

Each check takes the declaration and today's date and yields findings; :data:`PROMISE_CHECKS`
lists them in the order they run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date

from .model import Declaration, Purpose, Source
from .problems import Finding, error, warning
from .taxonomy import is_under

THIRD_PARTY_ADVERTISING = "marketing.advertising.third_party"


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


PROMISE_CHECKS: tuple[Callable[[Declaration, date], Iterable[Finding]], ...] = (
    _never_sells,
    _forbidden_not_collected,
    _consent_flags,
    _retention_coverage,
    _children,
    _transfers,
    _recipient_reviews,
    _cookies,
    _contacts,
)
