"""Fresh consent after a material policy change.

When a new policy version is recorded and its change from the version in force before it is
material, and the declaration says ``changes.fresh_consent_on_material_change``, consent to
every consent-based purpose given before that moment must be given again: a
:class:`~troth.consent.models.ConsentRenewal` row per purpose makes the fold mark such consent
``renewal_required``, the decision deny it, and the cookie banner's revision move on so that the
banner asks again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Policy, diff_policies, read_declaration

from .decide import Rules
from .ledger import mark_changed
from .models import ConsentRenewal

RENEWER = Actor.system("policy_publisher")


def purposes_to_renew(
    previous: Policy | None, current: Policy, *, previous_unreadable: bool = False
) -> list[str]:
    """The purposes whose consent must be given again when ``current`` replaces ``previous``.

    None when the declaration does not ask for fresh consent, when there is no earlier version,
    or when nothing material changed. A previous version that no longer loads (troth's checks
    grew stricter since) counts as a material change: asking again is the safe side.
    """
    if not current.declaration.changes.fresh_consent_on_material_change:
        return []
    if previous is None:
        if not previous_unreadable:
            return []
    elif previous.content_hash == current.content_hash or not any(
        change.material for change in diff_policies(previous, current)
    ):
        return []
    # Consent-based under the policy's own basis or under any of the organization's laws.
    jurisdictions = (None, *current.declaration.organization.jurisdictions)
    return sorted(
        {
            key
            for jurisdiction in jurisdictions
            for key, rule in Rules.compile(current, jurisdiction).purposes.items()
            if rule.needs_consent
        }
    )


def on_version_recorded(
    session: Session,
    previous_yaml: str | None,
    previous_version: str | None,
    current: Policy,
    now: datetime,
) -> list[str]:
    """The hook publishing calls when it records a new version: compare it with the version in
    force before (its stored declaration) and record the renewals needed."""
    if previous_yaml is None:
        return []
    previous, _problems = read_declaration(previous_yaml, f"policy version {previous_version}")
    return require_renewal(session, previous, current, now, previous_unreadable=previous is None)


def require_renewal(
    session: Session,
    previous: Policy | None,
    current: Policy,
    now: datetime,
    *,
    actor: Actor = RENEWER,
    previous_unreadable: bool = False,
) -> list[str]:
    """Record the renewals ``current`` needs (see :func:`purposes_to_renew`); returns them."""
    purposes = purposes_to_renew(previous, current, previous_unreadable=previous_unreadable)
    if not purposes:
        return []
    for purpose in purposes:
        session.add(
            ConsentRenewal(purpose=purpose, policy_version=current.version, required_at=now)
        )
    session.flush()
    mark_changed(session, [None], now)
    record_event(
        session,
        actor=actor,
        action="consent.renewal_required",
        policy_version=current.version,
        details={
            "purposes": purposes,
            "previous_version": previous.version if previous else None,
        },
        now=now,
    )
    return purposes
