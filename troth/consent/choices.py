"""A subject's own choices, as the privacy center shows and changes them (P5, P7).

The center lists every purpose that needs consent, except those only children's data is used
for (a parent consents for a child, after the parent's own verification: P29), with its state
now; giving and withdrawing are the same one step, each recorded in the ledger with method
``web_form``, acted by the subject. Beside them: the cookie banner's choices made in browsers
that were linked to this subject (the banner's browser ids merged in), read from the same
ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.declaration import Policy
from troth.subjects import IdentityKind
from troth.subjects.models import Identity
from troth.subjects.registry import get_subject

from .fold import PurposeConsent
from .ledger import ConsentInput, ConsentInputError, record_consents
from .models import ActedBy, ConsentState, Method
from .reading import history, load_state

COLLECTION_POINT = "privacy center"
COOKIE_METHODS = (Method.cookie_banner.value, Method.global_privacy_control.value)


@dataclass(frozen=True)
class PurposeChoice:
    """One purpose on the center's page: what it is, and the subject's consent to it now."""

    key: str
    name: str
    description: str | None
    consent: PurposeConsent | None

    @property
    def given(self) -> bool:
        return self.consent is not None and self.consent.active


@dataclass(frozen=True)
class CookieChoiceShown:
    """The latest cookie banner choice for a purpose, from any browser linked to the subject."""

    purpose: str
    name: str
    state: ConsentState
    occurred_at: datetime
    method: str


@dataclass(frozen=True)
class SubjectChoices:
    subject_id: str
    purposes: list[PurposeChoice]
    browsers: int
    cookie_choices: list[CookieChoiceShown]


def center_purposes(policy: Policy) -> list[str]:
    """The purposes the center offers: those needing consent that are not for children only."""
    decl = policy.declaration
    children = {s.key for s in decl.subjects if s.child}
    return [
        p.key
        for p in decl.purposes
        if p.needs_consent and not (p.subjects and set(p.subjects) <= children)
    ]


def subject_choices(
    session: Session, policy: Policy, subject_id: str, now: datetime
) -> SubjectChoices:
    """What the center shows the subject (UnknownSubject if there is none)."""
    subject = get_subject(session, subject_id)
    state = load_state(session, subject.id, now)
    purposes = [
        PurposeChoice(
            key,
            policy.purposes[key].name,
            policy.purposes[key].description,
            state.consents.get(key),
        )
        for key in center_purposes(policy)
    ]
    browsers = session.scalar(
        select(func.count())
        .select_from(Identity)
        .where(Identity.subject_id == subject.id, Identity.kind == IdentityKind.browser_id.value)
    )
    latest: dict[str, CookieChoiceShown] = {}
    for event in history(session, subject.id):
        if event.method in COOKIE_METHODS and event.purpose in policy.purposes:
            latest[event.purpose] = CookieChoiceShown(
                event.purpose,
                policy.purposes[event.purpose].name,
                ConsentState(event.state),
                event.occurred_at,
                event.method,
            )
    return SubjectChoices(subject.id, purposes, browsers or 0, list(latest.values()))


def set_choice(
    session: Session, policy: Policy, subject_id: str, purpose: str, give: bool, now: datetime
) -> bool:
    """Give (``give``) or withdraw the subject's consent to ``purpose`` from the center.

    Returns False, writing nothing, when the consent is already as asked (a form sent twice).
    :class:`ConsentInputError` names ``purpose`` when the center does not offer it.
    """
    if purpose not in center_purposes(policy):
        raise ConsentInputError("purpose", "is not a purpose you can choose here")
    subject = get_subject(session, subject_id)
    current = load_state(session, subject.id, now).consents.get(purpose)
    if give and current is not None and current.active:
        return False
    if not give and (current is None or not current.active):
        return False
    state = ConsentState.given if give else ConsentState.withdrawn
    choice = ConsentInput(
        purpose,
        state,
        method=Method.web_form,
        acted_by=ActedBy.subject,
        collection_point=COLLECTION_POINT,
    )
    record_consents(
        session, policy, [(subject.id, choice)], actor=Actor.subject(subject.id), now=now
    )
    return True
