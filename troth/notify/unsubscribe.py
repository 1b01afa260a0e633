"""One-click unsubscribe (P6): a signed link per subject and marketing purpose, for the
``List-Unsubscribe`` header of the company's marketing mail (RFC 2369, RFC 8058).

:func:`unsubscribe_url` builds the link; following it shows a page with one button, and a mail
program's one-click ``POST`` (body ``List-Unsubscribe=One-Click``) acts at once. Either way
:func:`unsubscribe` stops exactly the purpose the link names, and only a purpose whose declared
data use is marketing (``marketing.*``) can be named: service messages (billing, support,
project mail) go on, since no unsubscribe link can name their purposes. A purpose that needs
consent has its consent withdrawn (method ``email_link``); a marketing purpose on another basis
with ``opt_out: true`` gets the subject's objection to it. Unsubscribing again changes nothing.

The token carries the subject's troth id and the purpose, never an address, and is valid for a
year: marketing mail is read late. An expired link sends the person to the privacy center.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.consent import (
    ConsentInputError,
    ConsentState,
    Method,
    SignalKind,
    load_state,
    record_signal,
    withdraw,
)
from troth.declaration import Policy
from troth.subjects import Keyring
from troth.subjects.registry import get_subject

from .links import TamperedLink, sign_link, verify_link

LINK_PURPOSE = "unsubscribe"
LIFETIME = timedelta(days=365)
PATH = "/center/unsubscribe/"
ONE_CLICK = "List-Unsubscribe=One-Click"


@dataclass(frozen=True)
class UnsubscribeLink:
    url: str
    expires_at: datetime

    @property
    def headers(self) -> dict[str, str]:
        """The two headers a marketing email carries (RFC 2369 and RFC 8058)."""
        return {"List-Unsubscribe": f"<{self.url}>", "List-Unsubscribe-Post": ONE_CLICK}


@dataclass(frozen=True)
class Unsubscribed:
    subject_id: str
    purpose: str
    purpose_name: str
    changed: bool  # False when the subject had already unsubscribed


def check_marketing_purpose(policy: Policy, purpose: str) -> None:
    """:class:`ConsentInputError` naming ``purpose`` unless it is a declared marketing purpose
    one can stop (it needs consent, or allows an opt-out)."""
    declared = policy.purposes.get(purpose)
    if declared is None:
        raise ConsentInputError("purpose", "is not a declared purpose")
    if declared.data_use != "marketing" and not declared.data_use.startswith("marketing."):
        raise ConsentInputError(
            "purpose", "is not a marketing purpose; service messages have no unsubscribe link"
        )
    if not (declared.needs_consent or declared.opt_out):
        raise ConsentInputError("purpose", "neither needs consent nor allows an opt-out")


def unsubscribe_url(
    keyring: Keyring, policy: Policy, base_url: str, subject_id: str, purpose: str, now: datetime
) -> UnsubscribeLink:
    """The link that unsubscribes ``subject_id`` from ``purpose``; ``base_url`` is where people
    reach troth (``https://privacy.example.com``)."""
    check_marketing_purpose(policy, purpose)
    expires_at = now + LIFETIME
    token = sign_link(keyring, LINK_PURPOSE, {"s": subject_id, "p": purpose}, expires_at)
    return UnsubscribeLink(f"{base_url.rstrip('/')}{PATH}{token}", expires_at)


def read_unsubscribe(
    session: Session, keyring: Keyring, policy: Policy, token: str, now: datetime
) -> tuple[str, str]:
    """The subject (after merges) and purpose a link names. Raises the link errors of
    :func:`~troth.notify.verify_link`, TamperedLink for a purpose no longer declared for
    marketing, and UnknownSubject."""
    payload = verify_link(keyring, token, LINK_PURPOSE, now)
    subject_id, purpose = str(payload["s"]), str(payload["p"])
    try:
        check_marketing_purpose(policy, purpose)
    except ConsentInputError:
        raise TamperedLink("this link names something that can no longer be stopped") from None
    return get_subject(session, subject_id).id, purpose


def unsubscribe(
    session: Session,
    keyring: Keyring,
    policy: Policy,
    token: str,
    now: datetime,
) -> Unsubscribed:
    """Stop the purpose the link names for its subject, in the caller's transaction."""
    subject_id, purpose = read_unsubscribe(session, keyring, policy, token, now)
    declared = policy.purposes[purpose]
    state = load_state(session, subject_id, now)
    actor = Actor.subject(subject_id)
    changed = False
    if declared.needs_consent:
        current = state.consents.get(purpose)
        if current is not None and current.state is ConsentState.given:
            withdraw(
                session,
                policy,
                subject_id,
                [purpose],
                method=Method.email_link,
                actor=actor,
                now=now,
            )
            changed = True
    elif not state.objects_to(purpose):
        record_signal(
            session,
            policy,
            subject_id,
            SignalKind.objection,
            purpose=purpose,
            method=Method.email_link,
            actor=actor,
            now=now,
        )
        changed = True
    return Unsubscribed(subject_id, purpose, declared.name, changed)
