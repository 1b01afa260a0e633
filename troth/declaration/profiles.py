"""Jurisdiction profiles: the legal defaults a declaration is held to when it claims a law.

Each profile is data, registered by key. The checker compares the declaration against every
profile it claims and warns, naming the rule, where the declaration promises less than the law.
"""

from __future__ import annotations

from dataclasses import dataclass

from .durations import Duration


@dataclass(frozen=True)
class JurisdictionProfile:
    key: str
    name: str
    law: str
    acknowledge_within: Duration | None
    complete_within: Duration
    extension: Duration | None
    acknowledge_business_days: bool
    child_age: int
    breach_authority_within: Duration | None
    grievance_within: Duration | None
    required_rights: tuple[str, ...]
    disallowed_bases: dict[str, str]
    regulator: str


PROFILES: dict[str, JurisdictionProfile] = {}


def register(profile: JurisdictionProfile) -> JurisdictionProfile:
    PROFILES[profile.key] = profile
    return profile


register(
    JurisdictionProfile(
        key="eu-gdpr",
        name="EU General Data Protection Regulation",
        law="Regulation (EU) 2016/679 (GDPR)",
        acknowledge_within=None,
        complete_within=Duration(months=1),
        extension=Duration(months=2),
        acknowledge_business_days=False,
        child_age=16,
        breach_authority_within=Duration(hours=72),
        grievance_within=None,
        required_rights=(
            "access",
            "correction",
            "erasure",
            "portability",
            "restriction",
            "objection",
            "withdraw_consent",
        ),
        disallowed_bases={
            "legitimate_use": "GDPR Art. 6(1) has no 'legitimate use' basis; "
            "use legitimate_interest with a balancing test, or another Art. 6 basis",
        },
        regulator="the competent EU supervisory authority",
    )
)
register(
    JurisdictionProfile(
        key="in-dpdp",
        name="India's Digital Personal Data Protection Act 2023 and DPDP Rules 2025",
        law="Digital Personal Data Protection Act, 2023",
        acknowledge_within=None,
        complete_within=Duration(days=90),
        extension=None,
        acknowledge_business_days=False,
        child_age=18,
        breach_authority_within=Duration(hours=72),
        grievance_within=Duration(days=90),
        required_rights=("access", "correction", "erasure", "grievance", "nominate"),
        disallowed_bases={
            "legitimate_interest": "the DPDP Act has no 'legitimate interest' basis: processing "
            "needs consent or one of the legitimate uses listed in section 7 "
            "(use legitimate_use)",
        },
        regulator="the Data Protection Board of India",
    )
)
register(
    JurisdictionProfile(
        key="us-ca-ccpa",
        name="California Consumer Privacy Act as amended by the CPRA",
        law="Cal. Civ. Code § 1798.100 et seq. (CCPA/CPRA)",
        acknowledge_within=Duration(days=10),
        complete_within=Duration(days=45),
        extension=Duration(days=45),
        acknowledge_business_days=True,
        child_age=16,
        breach_authority_within=None,
        grievance_within=None,
        required_rights=("access", "erasure", "correction", "opt_out_marketing"),
        disallowed_bases={},
        regulator="the California Privacy Protection Agency",
    )
)


def calendar_days(duration: Duration, business_days: bool = False) -> float:
    """Approximate calendar length, counting 5 business days as a week.

    Business days count whole days only: a deadline in hours runs on the calendar.
    """
    days = duration.approx_days()
    in_days = not (duration.hours or duration.minutes or duration.seconds)
    return days * 7 / 5 if business_days and in_days else days
