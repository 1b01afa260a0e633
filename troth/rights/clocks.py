"""Every deadline of a rights request, computed in one place (DESIGN.md, "Time"; P14).

For each right, the declaration's ``rights`` section gives how soon a request is acknowledged
and completed (an offer for that right may set its own), and may allow an extension. The
jurisdiction the requester claims adds its law's limits (troth.declaration.profiles). Each
limit is turned into a moment, and the earliest moment wins: troth keeps whichever promise is
stricter, the company's or the law's.

* GDPR: complete within one month; the controller may extend by two further months, and must
  tell the subject within the first month (so an extension after the original deadline is
  refused). No acknowledgement deadline in the law: the declaration's applies.
* CCPA/CPRA: acknowledge within 10 business days, complete within 45 calendar days, extendable
  once by 45 more (90 in all), announced within the first 45.
* India's DPDP: complete within 90 days; no extension in the law.

Business days skip Saturdays and Sundays. Public holidays are not modelled: a deadline counted
in business days can fall on a holiday, which makes it earlier than the law's, never later.
A duration in hours (``PT72H``) runs on the calendar even where business days apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from troth.declaration import Policy
from troth.declaration.durations import Duration
from troth.declaration.profiles import PROFILES, JurisdictionProfile


class UnknownJurisdiction(ValueError):
    def __init__(self, jurisdiction: str, claimed: tuple[str, ...]) -> None:
        known = ", ".join(claimed) or "none"
        super().__init__(
            f"jurisdiction: {jurisdiction!r} is not one the declaration claims; it claims {known}"
        )
        self.jurisdiction = jurisdiction


@dataclass(frozen=True)
class Deadlines:
    """When a request must be acknowledged and completed, and how far it may be extended."""

    acknowledge_by: datetime
    complete_by: datetime
    extension: Duration | None
    business_days: bool
    rules: tuple[str, ...]

    @property
    def latest_extended(self) -> datetime | None:
        """The furthest the completion deadline can be moved, if it can be extended at all."""
        return None if self.extension is None else self.extension.add_to(self.complete_by)


def add_business_days(start: datetime, days: int) -> datetime:
    """``days`` working days after ``start`` (Monday to Friday; holidays not modelled). Counting
    starts the next day, so a request received on Saturday has its first day on Monday."""
    moment = start
    counted = 0
    while counted < days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            counted += 1
    return moment


def add(start: datetime, duration: Duration, *, business_days: bool) -> datetime:
    """``duration`` after ``start``: weeks and days as working days when ``business_days`` and
    the duration is whole days; years and months, and anything in hours, on the calendar."""
    whole_days = not (duration.hours or duration.minutes or duration.seconds)
    if not (business_days and whole_days and (duration.days or duration.weeks)):
        return duration.add_to(start)
    calendar_part = Duration(years=duration.years, months=duration.months)
    return add_business_days(calendar_part.add_to(start), duration.weeks * 5 + duration.days)


def profile_for(policy: Policy, jurisdiction: str | None) -> JurisdictionProfile | None:
    """The claimed jurisdiction's profile; UnknownJurisdiction if the declaration does not
    claim it (a request cannot be held to a law the company does not say it follows)."""
    if jurisdiction is None:
        return None
    claimed = policy.declaration.organization.jurisdictions
    if jurisdiction not in claimed or jurisdiction not in PROFILES:
        raise UnknownJurisdiction(jurisdiction, claimed)
    return PROFILES[jurisdiction]


def _shorter(a: Duration | None, b: Duration | None) -> Duration | None:
    if a is None or b is None:
        return a or b
    return a if a <= b else b


def deadlines(
    policy: Policy, right: str, jurisdiction: str | None, received_at: datetime
) -> Deadlines:
    """The deadlines of a request for ``right`` received at ``received_at`` under
    ``jurisdiction`` (None: the declaration's own promises only)."""
    rights = policy.declaration.rights
    offer = rights.offer(right)
    decl_business = rights.business_days
    acknowledge = [add(received_at, rights.acknowledge_for(right), business_days=decl_business)]
    complete = [add(received_at, rights.complete_for(right), business_days=decl_business)]
    extension = (offer.extension if offer else None) or rights.extension
    rules = ["declaration"]
    profile = profile_for(policy, jurisdiction)
    if profile is not None:
        rules.append(profile.key)
        if profile.acknowledge_within is not None:
            acknowledge.append(
                add(
                    received_at,
                    profile.acknowledge_within,
                    business_days=profile.acknowledge_business_days,
                )
            )
        complete.append(add(received_at, profile.complete_within, business_days=False))
        # The law's extension caps the declaration's; a declaration that allows none has none.
        if extension is None:
            extension = profile.extension
        elif profile.extension is not None:
            extension = _shorter(extension, profile.extension)
    return Deadlines(
        acknowledge_by=min(acknowledge),
        complete_by=min(complete),
        extension=extension,
        business_days=decl_business,
        rules=tuple(rules),
    )
