"""Decisions from the Kestrel policy: every reason, their precedence, bases per jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from support import dump, item, kestrel_data, read

from troth.consent import (
    ConsentState,
    Decision,
    PurposeConsent,
    Reason,
    Rules,
    SubjectState,
    decide,
    gpc_purposes,
)
from troth.declaration import Policy

NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
UNTIL = NOW + timedelta(days=730)


def consent(
    purpose: str,
    state: str = "given",
    *,
    acted_by: str = "subject",
    renewal: bool = False,
    expires_at: datetime | None = None,
) -> PurposeConsent:
    return PurposeConsent(
        purpose=purpose,
        state=ConsentState(state),
        since=NOW - timedelta(days=1),
        record_id=f"rec-{purpose}-{state}",
        policy_version="3.0",
        method="web_form",
        acted_by=acted_by,
        expires_at=expires_at,
        renewal_required=renewal,
    )


@dataclass(frozen=True)
class Case:
    name: str
    purpose: str
    allowed: bool
    reason: Reason
    consents: tuple[PurposeConsent, ...] = ()
    signals: dict[str, object] = field(default_factory=dict)
    basis: str | None = None

    def state(self) -> SubjectState:
        return SubjectState(
            as_of=NOW,
            consents={c.purpose: c for c in self.consents},
            **self.signals,  # type: ignore[arg-type]
        )


CASES = [
    Case("legal obligation", "billing", True, Reason.legal_basis, basis="legal_obligation"),
    Case("contract", "deliver_projects", True, Reason.legal_basis, basis="contract"),
    Case("legitimate use", "answer_inquiries", True, Reason.legal_basis, basis="legitimate_use"),
    Case(
        "active consent",
        "newsletter",
        True,
        Reason.consent,
        (consent("newsletter", expires_at=UNTIL),),
        basis="consent",
    ),
    Case("undeclared purpose", "telemarketing", False, Reason.undeclared_purpose),
    Case("no consent", "newsletter", False, Reason.no_consent, basis="consent"),
    Case(
        "refused",
        "site_analytics",
        False,
        Reason.consent_refused,
        (consent("site_analytics", "refused"),),
    ),
    Case(
        "withdrawn",
        "newsletter",
        False,
        Reason.consent_withdrawn,
        (consent("newsletter", "withdrawn"),),
    ),
    Case(
        "expired", "newsletter", False, Reason.consent_expired, (consent("newsletter", "expired"),)
    ),
    Case(
        "renewal required",
        "newsletter",
        False,
        Reason.renewal_required,
        (consent("newsletter", renewal=True),),
    ),
    Case(
        "opted out of a legitimate use",
        "answer_inquiries",
        False,
        Reason.opted_out,
        (consent("answer_inquiries", "withdrawn"),),
    ),
    Case(
        "restricted",
        "newsletter",
        False,
        Reason.restricted,
        (consent("newsletter"),),
        {"restricted": True},
    ),
    Case(
        "objected",
        "answer_inquiries",
        False,
        Reason.objected,
        signals={"objections": frozenset({"answer_inquiries"})},
    ),
    Case(
        "global privacy control",
        "email_engagement",
        False,
        Reason.gpc_opt_out,
        (consent("email_engagement"),),
        {"gpc_opt_out": True},
    ),
    Case(
        "child without a parent's consent",
        "newsletter",
        False,
        Reason.child_without_parental_consent,
        (consent("newsletter"),),
        {"child": True},
    ),
]


@pytest.fixture(scope="module")
def rules(kestrel_policy: Policy) -> Rules:
    return Rules.compile(kestrel_policy)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_reason_is_reached(rules: Rules, case: Case) -> None:
    decision = decide(rules, case.state(), case.purpose)
    assert (decision.allowed, decision.reason) == (case.allowed, case.reason)
    assert bool(decision) is case.allowed
    assert decision.purpose == case.purpose
    if case.basis is not None:
        assert decision.basis == case.basis
    by_purpose = {c.purpose: c for c in case.consents}
    if case.reason in (Reason.consent, Reason.consent_refused, Reason.renewal_required):
        assert decision.record_id == by_purpose[case.purpose].record_id
    if case.reason is Reason.consent:
        assert decision.until == UNTIL


def test_the_table_reaches_every_reason() -> None:
    assert {case.reason for case in CASES} == set(Reason)


def test_a_decision_explains_itself(rules: Rules) -> None:
    allowed = decide(rules, Case("", "", True, Reason.consent).state(), "billing")
    assert allowed.explanation == (
        "the purpose's legal basis (legal_obligation) does not need consent"
    )
    state = SubjectState(NOW, {"newsletter": consent("newsletter", expires_at=UNTIL)})
    given = decide(rules, state, "newsletter").as_dict()
    assert given == {
        "allowed": True,
        "reason": "consent",
        "explanation": f"consent given until {UNTIL.isoformat()}",
        "purpose": "newsletter",
        "basis": "consent",
        "record_id": "rec-newsletter-given",
        "until": UNTIL.isoformat(),
    }


def state_with(*consents: PurposeConsent, **signals: object) -> SubjectState:
    return SubjectState(NOW, {c.purpose: c for c in consents}, **signals)  # type: ignore[arg-type]


def reasons(rules: Rules, state: SubjectState, *purposes: str) -> dict[str, Reason]:
    return {purpose: decide(rules, state, purpose).reason for purpose in purposes}


def test_restriction_beats_consent_but_not_a_legal_obligation(rules: Rules) -> None:
    state = state_with(consent("newsletter"), consent("site_analytics"), restricted=True)
    assert reasons(
        rules, state, "newsletter", "site_analytics", "answer_inquiries", "deliver_projects"
    ) == dict.fromkeys(
        ("newsletter", "site_analytics", "answer_inquiries", "deliver_projects"),
        Reason.restricted,
    )
    for purpose in ("billing", "legal_requests"):
        decision = decide(rules, state, purpose)
        assert (decision.allowed, decision.reason) == (True, Reason.legal_basis)


def test_an_objection_stops_what_rests_on_interest_or_consent_but_not_a_contract(
    rules: Rules,
) -> None:
    state = state_with(consent("newsletter"), objections=frozenset({None}))
    for purpose in ("answer_inquiries", "security", "research", "newsletter"):
        assert decide(rules, state, purpose).reason is Reason.objected, purpose
    for purpose in ("deliver_projects", "operate_client_apps", "billing"):
        assert decide(rules, state, purpose).allowed, purpose
    narrow = state_with(objections=frozenset({"research"}))
    assert decide(rules, narrow, "research").reason is Reason.objected
    assert decide(rules, narrow, "security").allowed


def test_global_privacy_control_covers_marketing_cookies_but_not_the_newsletter(
    kestrel_policy: Policy, rules: Rules
) -> None:
    assert gpc_purposes(kestrel_policy) == {"email_engagement"}
    state = state_with(consent("newsletter"), consent("email_engagement"), gpc_opt_out=True)
    assert decide(rules, state, "email_engagement").reason is Reason.gpc_opt_out
    assert decide(rules, state, "newsletter").reason is Reason.consent
    without = state_with(consent("email_engagement"))
    assert decide(rules, without, "email_engagement").reason is Reason.consent


def test_gpc_covers_advertising_and_purposes_of_a_recipient_the_data_is_sold_to() -> None:
    data = kestrel_data()
    data["organization"]["never_sells"] = False
    data["purposes"].append(
        {
            "key": "ads",
            "name": "Show our ads on other sites",
            "data_use": "marketing.advertising",
            "legal_basis": "consent",
            "categories": ["user.device.cookie_id"],
            "subjects": ["visitor"],
            "opt_out": True,
        }
    )
    recipient = item(data, "recipients", "plausible")
    recipient["sale"] = True
    policy, problems = read(dump(data))
    assert policy is not None, problems
    assert gpc_purposes(policy) == {"ads", "email_engagement", "site_analytics"}


def test_a_child_needs_a_parents_consent(rules: Rules) -> None:
    by_parent = state_with(consent("child_accounts", acted_by="parent"), child=True)
    assert decide(rules, by_parent, "child_accounts").reason is Reason.consent
    by_child = state_with(consent("child_accounts"), child=True)
    assert decide(rules, by_child, "child_accounts").reason is (
        Reason.child_without_parental_consent
    )
    by_nominee = state_with(consent("child_accounts", acted_by="nominee"), child=True)
    assert not decide(rules, by_nominee, "child_accounts").allowed
    # A parent's consent that was withdrawn, or must be renewed, is no parent's consent.
    withdrawn = state_with(consent("child_accounts", "withdrawn", acted_by="parent"), child=True)
    assert decide(rules, withdrawn, "child_accounts").reason is (
        Reason.child_without_parental_consent
    )
    stale = state_with(consent("child_accounts", acted_by="parent", renewal=True), child=True)
    assert decide(rules, stale, "child_accounts").reason is Reason.child_without_parental_consent
    # Without consent, only what the law requires runs for a child.
    nothing = state_with(child=True)
    assert decide(rules, nothing, "billing").allowed
    assert decide(rules, nothing, "deliver_projects").reason is (
        Reason.child_without_parental_consent
    )
    # The same consent from an adult needs no parent.
    assert decide(rules, state_with(consent("child_accounts")), "child_accounts").allowed


def test_undeclared_purposes_are_denied_whatever_the_state(rules: Rules) -> None:
    state = state_with(consent("newsletter"))
    for purpose in ("", "Newsletter", "newsletter.extra", "sell_data"):
        decision = decide(rules, state, purpose)
        assert (decision.allowed, decision.reason, decision.basis) == (
            False,
            Reason.undeclared_purpose,
            None,
        )


def test_bases_follow_the_jurisdiction(kestrel_policy: Policy) -> None:
    default = Rules.compile(kestrel_policy)
    eu = Rules.compile(kestrel_policy, "eu-gdpr")
    assert eu.jurisdiction == "eu-gdpr"
    empty = state_with()
    assert decide(default, empty, "answer_inquiries").basis == "legitimate_use"
    assert decide(eu, empty, "answer_inquiries").basis == "legitimate_interest"
    assert decide(eu, empty, "answer_inquiries").allowed

    data = kestrel_data()
    item(data, "purposes", "research")["legal_basis_by_jurisdiction"] = {"eu-gdpr": "consent"}
    policy, problems = read(dump(data))
    assert policy is not None, problems
    india, europe = Rules.compile(policy, "in-dpdp"), Rules.compile(policy, "eu-gdpr")
    assert decide(india, empty, "research").reason is Reason.legal_basis
    assert decide(europe, empty, "research").reason is Reason.no_consent
    assert decide(europe, state_with(consent("research")), "research").reason is Reason.consent


def test_consent_required_on_another_basis_needs_consent() -> None:
    data = kestrel_data()
    item(data, "purposes", "security")["consent_required"] = True
    policy, problems = read(dump(data))
    assert policy is not None, problems
    rules = Rules.compile(policy)
    assert decide(rules, state_with(), "security").reason is Reason.no_consent
    assert decide(rules, state_with(consent("security")), "security").allowed


def test_a_decision_is_falsy_exactly_when_denied() -> None:
    assert not Decision(False, Reason.no_consent, "newsletter")
    assert Decision(True, Reason.legal_basis, "billing")
