"""The decision: may this subject's data be used for this purpose, and why (or why not).

``decide`` is pure: it reads a :class:`~troth.consent.fold.SubjectState` and the rules compiled
once from the policy. The decision cache (:mod:`troth.consent.cache`) calls it when a subject's
state is loaded, and then answers from memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from troth.declaration import Policy
from troth.declaration.taxonomy import is_under

from .fold import SubjectState
from .models import ActedBy, ConsentState

# Bases under which a purpose runs whatever the subject has said (objection does not apply).
FIRM_BASES = frozenset({"contract", "legal_obligation", "vital_interest", "public_task"})
# Bases that hold even for a restricted subject or a child without a parent's consent.
OVERRIDING_BASES = frozenset({"legal_obligation", "vital_interest"})
# Data uses that Global Privacy Control opts out of: selling, sharing and targeted advertising.
GPC_DATA_USES = ("marketing.advertising", "third_party_sharing")
GPC_COOKIE_CATEGORIES = frozenset({"marketing", "third_party"})


class Reason(StrEnum):
    """Why a decision came out as it did."""

    legal_basis = "legal_basis"
    consent = "consent"
    undeclared_purpose = "undeclared_purpose"
    no_consent = "no_consent"
    consent_refused = "consent_refused"
    consent_withdrawn = "consent_withdrawn"
    consent_expired = "consent_expired"
    renewal_required = "renewal_required"
    opted_out = "opted_out"
    restricted = "restricted"
    objected = "objected"
    gpc_opt_out = "gpc_opt_out"
    child_without_parental_consent = "child_without_parental_consent"


EXPLANATIONS = {
    Reason.legal_basis: "the purpose's legal basis ({basis}) does not need consent",
    Reason.consent: "consent given{until}",
    Reason.undeclared_purpose: "the purpose is not declared in the policy",
    Reason.no_consent: "the purpose needs consent and none was given",
    Reason.consent_refused: "consent was refused",
    Reason.consent_withdrawn: "consent was withdrawn",
    Reason.consent_expired: "consent expired",
    Reason.renewal_required: "the policy changed materially since consent was given; "
    "it must be given again",
    Reason.opted_out: "the subject opted out of this purpose",
    Reason.restricted: "processing is restricted for this subject",
    Reason.objected: "the subject objected to this purpose",
    Reason.gpc_opt_out: "the subject's browser sent a Global Privacy Control opt-out",
    Reason.child_without_parental_consent: "the subject is a child and a parent has not consented",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """Allow or deny, the reason, and the consent record it rests on (when there is one)."""

    allowed: bool
    reason: Reason
    purpose: str
    basis: str | None = None
    record_id: str | None = None
    until: datetime | None = None

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def explanation(self) -> str:
        until = f" until {self.until.isoformat()}" if self.until else ""
        return EXPLANATIONS[self.reason].format(basis=self.basis, until=until)

    def as_dict(self) -> dict[str, object]:
        """The decision as JSON data (a fresh dict each call; cached decisions are shared)."""
        return {
            "allowed": self.allowed,
            "reason": self.reason.value,
            "explanation": self.explanation,
            "purpose": self.purpose,
            "basis": self.basis,
            "record_id": self.record_id,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True, slots=True)
class PurposeRule:
    """What the policy says about one purpose, compiled for quick decisions."""

    key: str
    basis: str
    needs_consent: bool
    opt_out: bool
    gpc: bool


@dataclass(frozen=True)
class Rules:
    """Every purpose's rule, compiled once per policy (and per jurisdiction)."""

    purposes: dict[str, PurposeRule]
    jurisdiction: str | None = None

    @classmethod
    def compile(cls, policy: Policy, jurisdiction: str | None = None) -> Rules:
        gpc = gpc_purposes(policy)
        rules = {}
        for purpose in policy.declaration.purposes:
            basis = purpose.basis_under(jurisdiction) if jurisdiction else purpose.legal_basis
            needs = (
                purpose.consent_required
                if purpose.consent_required is not None
                else basis == "consent"
            )
            rules[purpose.key] = PurposeRule(
                key=purpose.key,
                basis=basis,
                needs_consent=needs,
                opt_out=purpose.opt_out,
                gpc=purpose.key in gpc,
            )
        return cls(rules, jurisdiction)


def gpc_purposes(policy: Policy) -> set[str]:
    """Purposes a Global Privacy Control signal opts out of: advertising and third-party sharing
    data uses, purposes behind marketing or third-party cookies, and purposes served by a
    recipient the data is sold to."""
    decl = policy.declaration
    found = {
        p.key for p in decl.purposes if any(is_under(p.data_use, use) for use in GPC_DATA_USES)
    }
    if decl.cookies is not None:
        for category in decl.cookies.categories:
            if category.key in GPC_COOKIE_CATEGORIES:
                found.update(category.purposes)
    for recipient in decl.recipients:
        if recipient.sale:
            found.update(recipient.purposes)
    return found


_DENIED_BY_STATE = {
    ConsentState.refused: Reason.consent_refused,
    ConsentState.withdrawn: Reason.consent_withdrawn,
    ConsentState.expired: Reason.consent_expired,
}


def decide(rules: Rules, state: SubjectState, purpose: str) -> Decision:
    """The decision for one purpose, in this order: undeclared purpose, restriction, objection,
    Global Privacy Control, a child without a parent's consent, then consent or legal basis."""
    rule = rules.purposes.get(purpose)
    if rule is None:
        return Decision(False, Reason.undeclared_purpose, purpose)
    basis = rule.basis
    if state.restricted and basis not in OVERRIDING_BASES:
        return Decision(False, Reason.restricted, purpose, basis)
    if state.objects_to(purpose) and basis not in FIRM_BASES:
        return Decision(False, Reason.objected, purpose, basis)
    if state.gpc_opt_out and rule.gpc:
        return Decision(False, Reason.gpc_opt_out, purpose, basis)
    consent = state.consents.get(purpose)
    parent_consented = consent is not None and consent.active and consent.acted_by == ActedBy.parent
    if state.child and basis not in OVERRIDING_BASES and not parent_consented:
        return Decision(False, Reason.child_without_parental_consent, purpose, basis)
    if rule.needs_consent:
        if consent is None:
            return Decision(False, Reason.no_consent, purpose, basis)
        if consent.state is ConsentState.given:
            if consent.renewal_required:
                return Decision(False, Reason.renewal_required, purpose, basis, consent.record_id)
            return Decision(
                True, Reason.consent, purpose, basis, consent.record_id, consent.expires_at
            )
        return Decision(False, _DENIED_BY_STATE[consent.state], purpose, basis, consent.record_id)
    if (
        rule.opt_out
        and consent is not None
        and consent.state
        in (
            ConsentState.withdrawn,
            ConsentState.refused,
        )
    ):
        return Decision(False, Reason.opted_out, purpose, basis, consent.record_id)
    return Decision(True, Reason.legal_basis, purpose, basis)
