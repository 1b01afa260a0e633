"""Fresh consent after a material policy change, through publishing's on_recorded hook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from consent_support import audit_events, give, new_subject
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from support import dump, item, kestrel_data, read

from troth.consent import (
    ConsentState,
    Reason,
    Rules,
    decide,
    load_state,
    on_version_recorded,
    purposes_to_renew,
    record_cookie_choice,
    renewal_generation,
)
from troth.consent.models import ConsentRenewal
from troth.declaration import Policy
from troth.publishing import publish
from troth.store import make_sessionmaker
from troth.subjects import Keyring, new_browser_id

T1 = datetime(2024, 1, 20, 9, 0, tzinfo=UTC)
T2 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
T3 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CONSENT_PURPOSES_2 = [
    "child_accounts",
    "newsletter",
    "recruitment",
    "site_analytics",
    "testimonials",
]


def publish_with_renewal(engine: Engine, policies: list[Policy], now: datetime) -> None:
    publish(engine, policies, now, on_recorded=on_version_recorded)


def state_of(engine: Engine, subject_id: str, now: datetime) -> tuple[ConsentState, bool]:
    with Session(engine) as session:
        consent = load_state(session, subject_id, now).consents["newsletter"]
    return consent.state, consent.renewal_required


def test_each_material_change_asks_for_consent_again(
    ledger_engine: Engine,
    keyring: Keyring,
    kestrel_history: list[Policy],
    kestrel_policy: Policy,
) -> None:
    v1, v2 = kestrel_history
    sessions = make_sessionmaker(ledger_engine)
    publish_with_renewal(ledger_engine, [v1], T1)
    with sessions.begin() as session:
        assert renewal_generation(session) == 0
        subject = new_subject(session, keyring, now=T1)
        give(session, v1, subject, "newsletter", now=T1 + DAY)

    publish_with_renewal(ledger_engine, [v2], T2)
    with sessions() as session:
        assert renewal_generation(session) == 1
        rows = session.scalars(select(ConsentRenewal).order_by(ConsentRenewal.purpose)).all()
        assert [(r.purpose, r.policy_version, r.required_at) for r in rows] == [
            (purpose, "2.0", T2) for purpose in CONSENT_PURPOSES_2
        ]
        (event,) = audit_events(session, "consent.renewal_required")
        assert (event.policy_version, event.details) == (
            "2.0",
            {"purposes": CONSENT_PURPOSES_2, "previous_version": "1.0"},
        )
        state = load_state(session, subject, T2 + DAY)
    assert state.consents["newsletter"].renewal_required
    decision = decide(Rules.compile(v2), state, "newsletter")
    assert (decision.allowed, decision.reason) == (False, Reason.renewal_required)
    assert state_of(ledger_engine, subject, T2 - DAY) == (ConsentState.given, False)

    with sessions.begin() as session:
        give(session, v2, subject, "newsletter", now=T2 + DAY)
    assert state_of(ledger_engine, subject, T2 + DAY) == (ConsentState.given, False)
    with sessions() as session:
        state = load_state(session, subject, T2 + DAY)
    assert decide(Rules.compile(v2), state, "newsletter").reason is Reason.consent

    publish_with_renewal(ledger_engine, [kestrel_policy], T3)
    with sessions() as session:
        assert renewal_generation(session) == 2
        latest = session.scalars(
            select(ConsentRenewal.purpose).where(ConsentRenewal.policy_version == "3.0")
        ).all()
        assert sorted(latest) == sorted([*CONSENT_PURPOSES_2, "email_engagement"])
    assert state_of(ledger_engine, subject, T3) == (ConsentState.given, True)

    # Publishing a version already recorded changes nothing.
    publish_with_renewal(ledger_engine, [kestrel_policy], T3 + DAY)
    with sessions() as session:
        assert renewal_generation(session) == 2
        assert len(audit_events(session, "consent.renewal_required")) == 2


def test_the_cookie_banner_records_the_same_choice_again_after_a_renewal(
    ledger_engine: Engine, keyring: Keyring, kestrel_history: list[Policy], kestrel_policy: Policy
) -> None:
    sessions = make_sessionmaker(ledger_engine)
    browser = new_browser_id()
    publish_with_renewal(ledger_engine, [kestrel_history[1]], T2)

    def choose(now: datetime) -> list[tuple[str, str]]:
        with sessions.begin() as session:
            return record_cookie_choice(
                session,
                policy=kestrel_policy,
                keyring=keyring,
                browser_id=browser,
                accepted=["analytics"],
                gpc=False,
                revision=0,
                now=now,
            ).recorded

    assert sorted(choose(T3 - 2 * DAY)) == [
        ("email_engagement", "refused"),
        ("site_analytics", "given"),
    ]
    assert choose(T3 - DAY) == []
    publish_with_renewal(ledger_engine, [kestrel_policy], T3)
    # The refusal needs no renewal; the consent does.
    assert choose(T3 + DAY) == [("site_analytics", "given")]


def test_no_renewal_after_a_minor_change(
    ledger_engine: Engine, keyring: Keyring, kestrel_policy: Policy
) -> None:
    sessions = make_sessionmaker(ledger_engine)
    publish_with_renewal(ledger_engine, [kestrel_policy], T3)
    with sessions.begin() as session:
        subject = new_subject(session, keyring, now=T3)
        give(session, kestrel_policy, subject, "newsletter", now=T3 + DAY)
    data = kestrel_data()
    data["policy"]["version"] = "3.1"
    data["policy"]["summary"] = "The same promises, in other words."
    minor, problems = read(dump(data))
    assert minor is not None, problems
    publish_with_renewal(ledger_engine, [minor], T3 + 2 * DAY)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConsentRenewal)) == 0
        assert renewal_generation(session) == 0
    assert state_of(ledger_engine, subject, T3 + 3 * DAY) == (ConsentState.given, False)


def test_no_renewal_when_the_declaration_does_not_ask_for_it(
    ledger_engine: Engine, keyring: Keyring, kestrel_policy: Policy
) -> None:
    data = kestrel_data()
    data["policy"]["version"] = "3.1"
    data["changes"]["fresh_consent_on_material_change"] = False
    item(data, "purposes", "newsletter")["categories"].append("user.job_title")
    material, problems = read(dump(data))
    assert material is not None, problems
    sessions = make_sessionmaker(ledger_engine)
    publish_with_renewal(ledger_engine, [kestrel_policy], T3)
    with sessions.begin() as session:
        subject = new_subject(session, keyring, now=T3)
        give(session, kestrel_policy, subject, "newsletter", now=T3 + DAY)
    publish_with_renewal(ledger_engine, [material], T3 + 2 * DAY)
    with sessions() as session:
        assert renewal_generation(session) == 0
        assert audit_events(session, "consent.renewal_required") == []
    assert state_of(ledger_engine, subject, T3 + 3 * DAY) == (ConsentState.given, False)


def test_purposes_to_renew(kestrel_history: list[Policy], kestrel_policy: Policy) -> None:
    v1, v2 = kestrel_history
    assert purposes_to_renew(None, kestrel_policy) == []
    assert purposes_to_renew(kestrel_policy, kestrel_policy) == []
    # 1.0 did not ask for fresh consent, 2.0 does: what the new version says is what counts.
    assert purposes_to_renew(v1, v2) == CONSENT_PURPOSES_2
    assert purposes_to_renew(v2, v1) == []
    unreadable = purposes_to_renew(None, kestrel_policy, previous_unreadable=True)
    assert unreadable == sorted([*CONSENT_PURPOSES_2, "email_engagement"])
    # A purpose that needs consent under one of the organization's laws only is renewed too.
    data = kestrel_data()
    data["policy"]["version"] = "3.1"
    item(data, "purposes", "research")["legal_basis_by_jurisdiction"] = {"eu-gdpr": "consent"}
    item(data, "purposes", "newsletter")["categories"].append("user.job_title")
    policy, problems = read(dump(data))
    assert policy is not None, problems
    assert "research" in purposes_to_renew(kestrel_policy, policy)
    assert "research" not in purposes_to_renew(v2, kestrel_policy)


@pytest.mark.parametrize("previous_yaml", [None, "troth: 1\npolicy: [this is not a declaration"])
def test_the_hook_compares_with_the_stored_declaration(
    ledger_engine: Engine, kestrel_policy: Policy, previous_yaml: str | None
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        renewed = on_version_recorded(session, previous_yaml, "2.9", kestrel_policy, T3)
    if previous_yaml is None:
        assert renewed == []
    else:
        # A stored version that no longer loads counts as a material change: ask again.
        assert renewed == purposes_to_renew(None, kestrel_policy, previous_unreadable=True)
    with Session(ledger_engine) as session:
        events = audit_events(session, "consent.renewal_required")
        assert len(events) == (0 if previous_yaml is None else 1)
        assert all(e.actor_id == "policy_publisher" for e in events)
