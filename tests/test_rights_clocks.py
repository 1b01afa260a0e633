"""Every deadline of a request, under each jurisdiction's profile, with the clock moved by hand:
business days across weekends, the stricter of declaration and law, and the extension path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from consent_support import STAFF
from rights_support import outbox, take_request
from sqlalchemy.orm import Session, sessionmaker
from support import dump, kestrel_data, read

from troth.declaration import Policy
from troth.declaration.durations import Duration
from troth.rights import (
    ExtensionRefused,
    UnknownJurisdiction,
    add_business_days,
    deadlines,
    extend,
    get_request,
    timeline,
)
from troth.subjects import Keyring

FRIDAY = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
JAN_31 = datetime(2027, 1, 31, 10, 0, tzinfo=UTC)


def kestrel_with(**rights: Any) -> Policy:
    data = kestrel_data()
    for name, value in rights.items():
        data["rights"][name] = value
    policy, problems = read(dump(data))
    assert policy is not None, problems
    return policy


def test_business_days_skip_the_weekend() -> None:
    assert FRIDAY.weekday() == 4 and SATURDAY.weekday() == 5
    assert add_business_days(FRIDAY, 1) == FRIDAY + timedelta(days=3)  # Monday
    assert add_business_days(FRIDAY, 10) == datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    # counting starts on the next working day: Saturday's first day is Monday
    assert add_business_days(SATURDAY, 1) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert add_business_days(SATURDAY, 5) == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def test_the_declaration_alone(kestrel_policy: Policy) -> None:
    due = deadlines(kestrel_policy, "access", None, FRIDAY)
    assert due.acknowledge_by == FRIDAY + timedelta(hours=72)
    assert due.complete_by == FRIDAY + timedelta(days=30)
    assert due.extension is None and due.latest_extended is None
    assert due.rules == ("declaration",)


def test_the_declaration_counting_business_days() -> None:
    policy = kestrel_with(acknowledge_within="P5D", business_days=True)
    due = deadlines(policy, "access", None, SATURDAY)
    assert due.acknowledge_by == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # Friday
    # hours run on the calendar even with business days
    hours = kestrel_with(acknowledge_within="PT72H", business_days=True)
    assert deadlines(hours, "access", None, SATURDAY).acknowledge_by == SATURDAY + timedelta(
        hours=72
    )


def test_gdpr_one_month_and_two_more(kestrel_policy: Policy) -> None:
    due = deadlines(kestrel_policy, "erasure", "eu-gdpr", JAN_31)
    # one month after 31 January is 28 February, sooner than the declaration's 30 days
    assert due.complete_by == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)
    assert due.extension == Duration(months=2)
    assert due.latest_extended == datetime(2027, 4, 28, 10, 0, tzinfo=UTC)
    assert due.acknowledge_by == JAN_31 + timedelta(hours=72)
    assert due.rules == ("declaration", "eu-gdpr")


def test_ccpa_ten_business_days_and_forty_five_plus_forty_five() -> None:
    policy = kestrel_with(acknowledge_within="P15D", complete_within="P60D")
    due = deadlines(policy, "access", "us-ca-ccpa", FRIDAY)
    # the law's 10 business days (two weekends) beat the declaration's 15 calendar days
    assert due.acknowledge_by == datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    assert due.complete_by == FRIDAY + timedelta(days=45)
    assert due.extension == Duration(days=45)
    assert due.latest_extended == FRIDAY + timedelta(days=90)


def test_the_stricter_promise_wins_over_the_law(kestrel_policy: Policy) -> None:
    # Kestrel promises 72 hours and 30 days: sooner than CCPA's 10 business days and 45 days
    due = deadlines(kestrel_policy, "access", "us-ca-ccpa", FRIDAY)
    assert due.acknowledge_by == FRIDAY + timedelta(hours=72)
    assert due.complete_by == FRIDAY + timedelta(days=30)


def test_dpdp_has_no_extension(kestrel_policy: Policy) -> None:
    due = deadlines(kestrel_policy, "access", "in-dpdp", FRIDAY)
    assert due.complete_by == FRIDAY + timedelta(days=30)  # 30 < the law's 90
    assert due.extension is None


def test_a_declared_extension_is_capped_by_the_law() -> None:
    policy = kestrel_with(extension="P6M")
    assert deadlines(policy, "access", "eu-gdpr", FRIDAY).extension == Duration(months=2)
    assert deadlines(policy, "access", "us-ca-ccpa", FRIDAY).extension == Duration(days=45)
    assert deadlines(policy, "access", None, FRIDAY).extension == Duration(months=6)


def test_a_per_right_offer_sets_its_own_deadline(kestrel_policy: Policy) -> None:
    policy = kestrel_with(
        offered=["access", {"right": "erasure", "complete_within": "P10D"}, "correction"]
    )
    assert deadlines(policy, "erasure", None, FRIDAY).complete_by == FRIDAY + timedelta(days=10)
    assert deadlines(policy, "access", None, FRIDAY).complete_by == FRIDAY + timedelta(days=30)


def test_a_law_the_company_does_not_claim_is_refused() -> None:
    data = kestrel_data()
    data["organization"]["jurisdictions"] = ["in-dpdp"]
    policy, problems = read(dump(data))
    assert policy is not None, problems
    with pytest.raises(UnknownJurisdiction, match="it claims in-dpdp"):
        deadlines(policy, "access", "eu-gdpr", FRIDAY)


# The extension path, stored ---------------------------------------------------------------------


def _gdpr_request(
    sessions: sessionmaker[Session], policy: Policy, keyring: Keyring, jurisdiction: str
) -> str:
    with sessions.begin() as session:
        return take_request(
            session, policy, keyring, "erasure", now=JAN_31, jurisdiction=jurisdiction
        ).id


def test_an_extension_inside_the_first_month(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    request_id = _gdpr_request(sessions, kestrel_policy, keyring, "eu-gdpr")
    with sessions.begin() as session:
        extend(
            session,
            kestrel_policy,
            keyring,
            request_id,
            reason="Many systems to search",
            now=JAN_31 + timedelta(days=20),
            actor=STAFF,
        )
    with sessions() as session:
        request = get_request(session, request_id)
        assert request.extended
        assert request.complete_by == datetime(2027, 4, 28, 10, 0, tzinfo=UTC)
        assert request.original_complete_by == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)
        assert timeline(session, request_id)[-1].action == "deadline_extended"
        [(_to, text)] = outbox(session, keyring, "rights_extended")
        assert "Many systems to search" in text and "2027-04-28" in text


@pytest.mark.parametrize(
    ("after", "by", "refusal"),
    [
        (timedelta(days=29), None, "too late"),  # 1 March: past 28 February
        (timedelta(days=10), Duration(months=3), "too long"),
        (timedelta(days=10), Duration(days=62), "too long"),
    ],
)
def test_an_extension_too_late_or_too_long_is_refused(
    sessions: sessionmaker[Session],
    kestrel_policy: Policy,
    keyring: Keyring,
    after: timedelta,
    by: Duration | None,
    refusal: str,
) -> None:
    request_id = _gdpr_request(sessions, kestrel_policy, keyring, "eu-gdpr")
    with sessions.begin() as session, pytest.raises(ExtensionRefused, match=refusal):
        extend(
            session,
            kestrel_policy,
            keyring,
            request_id,
            reason="Complex",
            now=JAN_31 + after,
            actor=STAFF,
            by=by,
        )
    with sessions() as session:
        assert not get_request(session, request_id).extended


def test_an_extension_is_once_and_only_where_allowed(
    sessions: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring
) -> None:
    request_id = _gdpr_request(sessions, kestrel_policy, keyring, "eu-gdpr")
    soon = JAN_31 + timedelta(days=1)
    with sessions.begin() as session:
        extend(
            session,
            kestrel_policy,
            keyring,
            request_id,
            reason="Complex",
            now=soon,
            actor=STAFF,
            by=Duration(months=1),
        )
    with sessions.begin() as session, pytest.raises(ExtensionRefused, match="already extended"):
        extend(session, kestrel_policy, keyring, request_id, reason="Again", now=soon, actor=STAFF)
    india = _gdpr_request(sessions, kestrel_policy, keyring, "in-dpdp")
    with sessions.begin() as session, pytest.raises(ExtensionRefused, match="allows extending"):
        extend(session, kestrel_policy, keyring, india, reason="Complex", now=soon, actor=STAFF)
