"""A child's submission held at collection until a parent consents (P29).

When the declaration has a ``children`` section and a submission is a child's (see
:func:`troth.vault.collect`), its items are stored but tied to a :class:`ChildHold`: no read
returns them, and the ``child`` signal makes every decision for the subject answer
``child_without_parental_consent`` until a parent's consent is recorded. The parent is found
(or created) as a subject of their own, by their email identity, so the address is stored only
encrypted, and is sent a signed link to a page where they give or refuse consent
(:mod:`troth.children`). The link lasts as long as the declared ``consent_window``; after it,
the sweep deletes the held data.

The hold lives here, with collection, because it is decided while a submission is checked and
written in the same transaction; what follows it (the parent's answer, the sweep, a child found
later) is :mod:`troth.children`, above the vault.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.consent import Method, SignalKind, load_state, record_signal
from troth.declaration import Policy
from troth.notify import enqueue, sign_link
from troth.subjects import IdentityKind, Keyring
from troth.subjects.registry import resolve_subject

from .models import ChildHold

CONSENT_LINK_PURPOSE = "children.parental_consent"
# The page the parent's link opens (troth.web.children serves it).
CONSENT_PATH = "/children/consent/"
REQUEST_TEMPLATE = "parental_consent_request"


def raise_child_signal(
    session: Session, policy: Policy, subject_id: str, *, actor: Actor, now: datetime
) -> bool:
    """Raise the ``child`` signal unless it is already up; True if it was raised now."""
    if load_state(session, subject_id, now).child:
        return False
    record_signal(
        session, policy, subject_id, SignalKind.child, method=Method.api, actor=actor, now=now
    )
    return True


def parent_subject(
    session: Session, keyring: Keyring, policy: Policy, parent_email: str, *, now: datetime,
    actor: Actor,
) -> str:  # fmt: skip
    """The subject of the parent's email identity, found or created."""
    parent, _ = resolve_subject(
        session,
        keyring,
        IdentityKind.email.value,
        parent_email,
        now=now,
        actor=actor,
        policy_version=policy.version,
    )
    return parent.id


def consent_link(keyring: Keyring, base_url: str, hold: ChildHold) -> str:
    assert hold.window_ends is not None
    token = sign_link(keyring, CONSENT_LINK_PURPOSE, {"hold": hold.id}, hold.window_ends)
    return f"{base_url.rstrip('/')}{CONSENT_PATH}{token}"


def category_names(policy: Policy, categories: Sequence[str]) -> list[str]:
    """How a parent reads the categories: their declared names, in order, once each."""
    names = []
    for key in categories:
        category = policy.categories.get(key)
        names.append(category.name if category is not None else key)
    return list(dict.fromkeys(names))


def long_date(value: datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def open_hold(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    *,
    subject_id: str,
    submission_id: str,
    purpose: str,
    categories: Sequence[str],
    parent_email: str,
    base_url: str,
    now: datetime,
    actor: Actor,
) -> ChildHold:
    """Hold a child's submission: the hold, the ``child`` signal, and the parent's email with
    the consent link, with the audit event ``child.held``, in the caller's transaction."""
    children = policy.declaration.children
    assert children is not None
    parent_id = parent_subject(session, keyring, policy, parent_email, now=now, actor=actor)
    hold = ChildHold(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        submission_id=submission_id,
        purposes=[purpose],
        categories=list(dict.fromkeys(categories)),
        parent_subject_id=parent_id,
        status="held",
        held_at=now,
        window_ends=children.consent_window.add_to(now),
        policy_version=policy.version,
    )
    session.add(hold)
    session.flush()
    raise_child_signal(session, policy, subject_id, actor=actor, now=now)
    assert hold.window_ends is not None
    enqueue(
        session,
        keyring=keyring,
        to=parent_email,
        template=REQUEST_TEMPLATE,
        context={
            "organization": policy.organization_name,
            "purpose_name": policy.purposes[purpose].name,
            "categories": category_names(policy, hold.categories),
            "consent_url": consent_link(keyring, base_url, hold),
            "expires_on": long_date(hold.window_ends),
        },
        now=now,
        actor=actor,
        subject_id=parent_id,
        policy_version=policy.version,
    )
    record_event(
        session,
        actor=actor,
        action="child.held",
        subject_id=subject_id,
        policy_version=policy.version,
        details={
            "hold_id": hold.id,
            "submission_id": submission_id,
            "purposes": hold.purposes,
            "categories": hold.categories,
            "parent_subject_id": parent_id,
            "window_ends": hold.window_ends.isoformat(),
        },
        now=now,
    )
    return hold
