"""Turn a :class:`Policy` into the plain rows and sentences the policy template lays out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import Declaration, Purpose, RetentionRule, Source
from ..policy import Policy, rule_categories
from ..profiles import PROFILES
from . import words as w


@dataclass
class PolicyView:
    policy: Policy
    d: Declaration = field(init=False)

    def __post_init__(self) -> None:
        self.d = self.policy.declaration

    def category_name(self, key: str) -> str:
        category = self.policy.categories.get(key)
        return category.name if category else key

    def subject_name(self, key: str) -> str:
        subject = self.policy.subjects.get(key)
        return subject.name if subject else key

    def purpose_name(self, key: str) -> str:
        purpose = self.policy.purposes.get(key)
        return purpose.name if purpose else key

    # -- sections -------------------------------------------------------------------------

    def laws(self) -> list[str]:
        return [PROFILES[j].name for j in self.d.organization.jurisdictions]

    def collected_rows(self) -> list[dict[str, str]]:
        rows = []
        for category in self.d.categories:
            if category.forbidden:
                continue
            sources = [s for s in self.d.sources if category.key in s.categories]
            subjects: list[str] = []
            users: tuple[Source | Purpose, ...] = (*sources, *self.d.purposes)
            for item in users:
                if category.key in item.categories:
                    subjects += [k for k in item.subjects if k not in subjects]
            how = [s.name for s in sources]
            if category.technical:
                how.insert(0, "Collected automatically")
            rows.append(
                {
                    "name": category.name,
                    "whose": w.join([self.subject_name(s) for s in subjects]) or "Anyone",
                    "how": "; ".join(how) or "Provided by you",
                }
            )
        return rows

    def forbidden(self) -> list[dict[str, str]]:
        return [
            {"name": c.name, "reason": c.reason or ""} for c in self.d.categories if c.forbidden
        ]

    def sources(self) -> list[dict[str, str]]:
        return [
            {"name": s.name, "kind": w.SOURCE_KINDS[s.kind], "description": s.description or ""}
            for s in self.d.sources
        ]

    def basis_words(self, purpose: Purpose) -> str:
        text = w.LEGAL_BASIS[purpose.legal_basis]
        if purpose.legal_basis_by_jurisdiction:
            others = [
                f"{w.LEGAL_BASIS[basis]} in {w.JURISDICTION_NAMES[law]}"
                for law, basis in purpose.legal_basis_by_jurisdiction.items()
            ]
            text += " (" + "; ".join(others) + ")"
        return text[0].upper() + text[1:]

    def choice_words(self, purpose: Purpose) -> str:
        if purpose.needs_consent:
            text = "Only with your consent, which you can withdraw at any time"
            if purpose.consent_expires_after:
                text += f"; we ask again after {purpose.consent_expires_after.words()}"
            return text
        if purpose.opt_out:
            return "You can opt out at any time"
        if purpose.legal_basis == "legitimate_interest":
            return "You can object"
        return "Needed for this purpose"

    def purpose_rows(self) -> list[dict[str, str]]:
        rows = []
        for p in self.d.purposes:
            note = " ".join(
                part
                for part in (
                    p.description or "",
                    "Only anonymised, aggregated data is used; no one can be singled out."
                    if p.anonymised_only
                    else "",
                )
                if part
            )
            rows.append(
                {
                    "name": p.name,
                    "note": note,
                    "data": w.join([self.category_name(c) for c in p.categories]),
                    "basis": self.basis_words(p) + (f". {p.basis_note}" if p.basis_note else ""),
                    "choice": self.choice_words(p),
                }
            )
        return rows

    def recipient_rows(self) -> list[dict[str, str]]:
        rows = []
        for r in self.d.recipients:
            role = w.RECIPIENT_KINDS[r.kind]
            if r.kind == "acquirer" and r.prior_notice:
                role += f"; we tell you {r.prior_notice.words()} before"
            where = w.region(r.country) if r.country else ""
            if r.transfer_mechanism:
                where += f", under {w.TRANSFER_MECHANISMS[r.transfer_mechanism]}"
            rows.append(
                {
                    "name": r.name,
                    "role": role + (f". {r.description}" if r.description else ""),
                    "data": w.join([self.category_name(c) for c in r.categories]),
                    "why": w.join([self.purpose_name(p) for p in r.purposes]),
                    "where": where.strip() or "—",
                }
            )
        return rows

    def clock_words(self, rule: RetentionRule) -> str:
        if rule.starts_at in w.CLOCK_EVENTS:
            return w.CLOCK_EVENTS[rule.starts_at]
        event = next((e for e in self.d.events if e.key == rule.starts_at), None)
        return event.name if event else rule.starts_at.replace("_", " ")

    def retention_rows(self) -> list[dict[str, str]]:
        rows = []
        for rule in self.d.retention:
            keep = rule.period.words()
            if rule.per_client_override:
                keep += ", or as agreed in the client's contract"
            why = ""
            if rule.legal_basis:
                why = w.LEGAL_BASIS[rule.legal_basis].capitalize()
            if rule.reason:
                why = f"{why}: {rule.reason}" if why else rule.reason
            covered = sorted(rule_categories(self.d, rule), key=self.category_name)
            rows.append(
                {
                    "name": rule.name,
                    "covers": w.join([self.category_name(c) for c in covered]),
                    "period": keep,
                    "from": self.clock_words(rule),
                    "then": w.RETENTION_ACTIONS[rule.action],
                    "why": why or "—",
                }
            )
        return rows

    def rights_rows(self) -> list[dict[str, str]]:
        rights = self.d.rights
        rows = []
        for offer in rights.offered:
            label, meaning = w.RIGHTS[offer.right]
            rows.append(
                {
                    "label": label,
                    "meaning": meaning + (f" {offer.note}" if offer.note else ""),
                    "within": rights.complete_for(offer.right).words(),
                }
            )
        return rows

    def deadline_sentence(self) -> str:
        rights = self.d.rights
        unit = " (business days)" if rights.business_days else ""
        text = (
            f"We acknowledge every request within {rights.acknowledge_within.words()} and "
            f"complete it within {rights.complete_within.words()}{unit} unless the table "
            "below says otherwise."
        )
        if rights.extension:
            text += (
                f" Where a request is complex we may extend this once by up to "
                f"{rights.extension.words()}; if we do, we tell you why before the first "
                "deadline."
            )
        return text

    def cookie_categories(self) -> list[dict[str, str]]:
        if not self.d.cookies:
            return []
        return [
            {"name": c.name, "description": c.description or ""} for c in self.d.cookies.categories
        ]

    def cookie_rows(self) -> list[dict[str, str]]:
        if not self.d.cookies:
            return []
        return [
            {
                "name": c.name,
                "category": w.COOKIE_CATEGORIES[c.category],
                "provider": c.provider + (" (third party)" if c.third_party else ""),
                "purpose": c.purpose,
                "lifetime": "Until you close your browser"
                if c.lifetime == "session"
                else c.lifetime_words,
            }
            for c in self.d.cookies.cookies
        ]

    def children(self) -> dict[str, Any] | None:
        c = self.d.children
        if c is None:
            return None
        return {
            "age": c.age_threshold,
            "method": w.PARENTAL_CONSENT.get(c.parental_consent_method or "", ""),
            "window": c.consent_window.words(),
            "action": "delete" if c.on_found_without_consent == "delete" else "isolate",
            "notify_parent": c.notify_parent,
        }

    def transfers(self) -> dict[str, Any] | None:
        t = self.d.transfers
        if t is None:
            return None
        return {
            "home": t.home_region,
            "routes": [
                f"{w.region(route.region)}, under {w.TRANSFER_MECHANISMS[route.mechanism]}"
                for route in t.allowed
            ],
            "pinning": t.client_region_pinning,
        }

    def change_sentence(self) -> str:
        c = self.d.changes
        channels = w.join(
            [
                {"email": "by email", "site": "on this site", "banner": "with a site banner"}[n]
                for n in c.notify_by
            ]
        )
        text = f"When we make a material change to this policy we tell you {channels}"
        text += f", {c.notice_before.words()} before it takes effect." if c.notice_before else "."
        if c.fresh_consent_on_material_change:
            text += (
                " Where a change affects something you consented to, we ask for your consent again."
            )
        if c.opt_out_offered:
            text += " You can opt out of a changed use before it applies to you."
        return text

    def context(self) -> dict[str, Any]:
        d = self.d
        return {
            "d": d,
            "org": d.organization,
            "policy": self.policy,
            "updated": w.long_date(d.policy.effective_date),
            "laws": self.laws(),
            "collected": self.collected_rows(),
            "forbidden": self.forbidden(),
            "sources": self.sources(),
            "purposes": self.purpose_rows(),
            "recipients": self.recipient_rows(),
            "retention": self.retention_rows(),
            "rights": self.rights_rows(),
            "deadline": self.deadline_sentence(),
            "cookie_categories": self.cookie_categories(),
            "cookies": self.cookie_rows(),
            "children": self.children(),
            "transfers": self.transfers(),
            "changes": self.change_sentence(),
            "breach_within": d.incidents.notify_authority_within.words()
            if d.incidents.notify_authority_within
            else None,
        }
