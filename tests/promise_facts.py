"""Small facts about a loaded policy that the seed promise table is written in."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from troth.declaration import Duration, Policy
from troth.declaration.model import Purpose, RetentionRule
from troth.declaration.taxonomy import is_under


@dataclass(frozen=True)
class Promise:
    seed: str
    number: str
    says: str  # a few words of the seed
    holds: Callable[[Policy], bool]

    def __str__(self) -> str:
        return f"{self.seed}-{self.number}-{re.sub(r'[^a-z0-9]+', '-', self.says.lower())}"


def purpose(p: Policy, key: str) -> Purpose:
    return p.purposes[key]


def rule(p: Policy, key: str) -> RetentionRule:
    return p.retention_rules[key]


def offered(p: Policy) -> set[str]:
    return {o.right for o in p.declaration.rights.offered}


def kinds(p: Policy, section: str) -> set[str]:
    return {item.kind for item in getattr(p.declaration, section)}


def using(p: Policy, category: str) -> set[str]:
    return {pu.key for pu in p.declaration.purposes if category in pu.categories}


def technical(p: Policy, *keys: str) -> bool:
    return all(p.categories[k].technical for k in keys)


def never_sells(p: Policy) -> bool:
    d = p.declaration
    return (
        d.organization.never_sells
        and not any(r.sale for r in d.recipients)
        and not any(is_under(pu.data_use, "marketing.advertising.third_party") for pu in d.purposes)
    )


def disclosed_to_authorities_by_law(p: Policy) -> bool:
    return any(
        r.kind == "authority"
        and any(p.purposes[k].legal_basis == "legal_obligation" for k in r.purposes)
        for r in p.declaration.recipients
    )


def marketing_can_be_refused(p: Policy) -> bool:
    marketing = [pu for pu in p.declaration.purposes if is_under(pu.data_use, "marketing")]
    return bool(marketing) and all(pu.opt_out for pu in marketing)


def non_essential_needs_consent(p: Policy) -> bool:
    roots = ("marketing", "analytics", "personalize", "functional")
    return all(
        pu.needs_consent
        for pu in p.declaration.purposes
        if any(is_under(pu.data_use, root) for root in roots)
    )


def optional_uses_can_be_refused(p: Policy) -> bool:
    roots = ("marketing", "analytics", "personalize", "functional", "sales")
    return all(
        pu.needs_consent or pu.opt_out
        for pu in p.declaration.purposes
        if any(is_under(pu.data_use, root) for root in roots)
    )


def cookie_choices_need_consent(p: Policy) -> bool:
    cookies = p.declaration.cookies
    assert cookies is not None
    optional = [c for c in cookies.categories if c.key != "essential"]
    return (
        cookies.honour_global_privacy_control
        and bool(optional)
        and all(p.purposes[k].needs_consent for c in optional for k in c.purposes)
    )


def legal_record(p: Policy, key: str) -> bool:
    r = rule(p, key)
    return r.legal_basis == "legal_obligation" and r.period >= Duration(years=7)
