"""Legal holds (P20): a litigation, an audit or an authority's order suspends deletion.

A hold covers a subject (and every subject merged into them), a client, a data category (and
every category under it) or a dataset (``vault`` for troth's own store, ``KEY`` or
``KEY.COLLECTION`` for a company database). While it is active no retention sweep deletes,
anonymises or isolates what it covers; once lifted, or once its ``until`` has passed, the next
sweep acts on whatever is due. Placing and lifting write the audit events
``retention.hold_placed`` and ``retention.hold_lifted`` with the hold's id, scope and end only:
the target can name a subject or a client and the reason is free text, so both stay in the
hold's own row, which staff read in the review report.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Policy
from troth.declaration.model import KEY_PATTERN
from troth.declaration.taxonomy import is_under
from troth.subjects.registry import UnknownSubject, get_subject, merged_ids
from troth.vault.clients import client_key_problem
from troth.vault.models import VaultItem

from .models import HOLD_SCOPES, LegalHold

VAULT = "vault"
MAX_REASON = 2000
MAX_WHO = 200
DATASET_PATTERN = re.compile(rf"^{KEY_PATTERN}$")


class HoldInputError(ValueError):
    """A hold that cannot be placed or lifted as asked; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownHold(LookupError):
    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no legal hold with id {hold_id!r}; `troth holds list` shows them")
        self.hold_id = hold_id


class HoldAlreadyLifted(ValueError):
    def __init__(self, hold: LegalHold) -> None:
        super().__init__(f"legal hold {hold.id} was already lifted")
        self.hold = hold


def is_active(hold: LegalHold, now: datetime) -> bool:
    return (
        hold.placed_at <= now
        and hold.lifted_at is None
        and (hold.until is None or hold.until > now)
    )


def _checked_target(session: Session, policy: Policy, scope: str, target: str) -> str:
    target = target.strip()
    if not target:
        raise HoldInputError(scope, "is empty; say what the hold covers")
    if scope == "subject":
        try:
            return get_subject(session, target).id
        except UnknownSubject:
            raise HoldInputError("subject", "no subject has this id") from None
    if scope == "client":
        # The key collect stores on a client's items (troth.vault.clients), checked the same
        # way: a hold on a key collect would refuse could never cover anything.
        problem = client_key_problem(target)
        if problem is not None:
            raise HoldInputError("client", problem)
        return target
    if scope == "category":
        if not any(is_under(declared, target) for declared in policy.categories):
            raise HoldInputError(
                "category", "is not a category the declaration declares (nor one above them)"
            )
        return target
    if not DATASET_PATTERN.match(target) or target.count(".") > 1:
        raise HoldInputError(
            "dataset", f"is not a dataset key: '{VAULT}', a dataset's key or KEY.COLLECTION"
        )
    return target


def place_hold(
    session: Session,
    policy: Policy,
    *,
    scope: str,
    target: str,
    reason: str,
    placed_by: str,
    until: datetime | None = None,
    now: datetime,
    actor: Actor,
) -> LegalHold:
    """Place a legal hold, with the audit event ``retention.hold_placed``, in the caller's
    transaction. Raises :class:`HoldInputError` naming the input at fault."""
    if scope not in HOLD_SCOPES:
        raise HoldInputError("scope", f"is not one of {', '.join(HOLD_SCOPES)}")
    checked = _checked_target(session, policy, scope, target)
    reason = reason.strip()
    if not reason:
        raise HoldInputError("reason", "is empty; name the matter (a case or order number)")
    if len(reason) > MAX_REASON:
        raise HoldInputError("reason", f"is longer than {MAX_REASON} characters")
    placed_by = placed_by.strip()
    if not placed_by or len(placed_by) > MAX_WHO:
        raise HoldInputError("placed_by", f"must say who places the hold (1 to {MAX_WHO} chars)")
    if until is not None:
        if until.tzinfo is None or until.utcoffset() is None:
            raise HoldInputError("until", "needs a time zone (e.g. 2027-06-30T00:00:00Z)")
        if until <= now:
            raise HoldInputError("until", "is not in the future")
    hold = LegalHold(
        id=str(uuid.uuid4()),
        scope=scope,
        target=checked,
        reason=reason,
        placed_by=placed_by,
        placed_at=now,
        until=until,
    )
    session.add(hold)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="retention.hold_placed",
        subject_id=checked if scope == "subject" else None,
        policy_version=policy.version,
        details={
            "hold_id": hold.id,
            "scope": scope,
            "until": until.isoformat() if until else None,
        },
        now=now,
    )
    return hold


def lift_hold(
    session: Session, hold_id: str, *, lifted_by: str, now: datetime, actor: Actor
) -> LegalHold:
    """Lift a hold, with the audit event ``retention.hold_lifted``; the next sweep acts on what
    it kept. Raises :class:`UnknownHold` and :class:`HoldAlreadyLifted`."""
    lifted_by = lifted_by.strip()
    if not lifted_by or len(lifted_by) > MAX_WHO:
        raise HoldInputError("lifted_by", f"must say who lifts the hold (1 to {MAX_WHO} chars)")
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise UnknownHold(hold_id)
    if hold.lifted_at is not None:
        raise HoldAlreadyLifted(hold)
    hold.lifted_at = now
    hold.lifted_by = lifted_by
    session.flush()
    record_event(
        session,
        actor=actor,
        action="retention.hold_lifted",
        subject_id=hold.target if hold.scope == "subject" else None,
        details={"hold_id": hold.id, "scope": hold.scope},
        now=now,
    )
    return hold


def list_holds(session: Session, now: datetime, *, active_only: bool = False) -> list[LegalHold]:
    """Every hold, newest first; only those active at ``now`` when ``active_only``."""
    holds = list(
        session.scalars(select(LegalHold).order_by(LegalHold.placed_at.desc(), LegalHold.id))
    )
    return [h for h in holds if is_active(h, now)] if active_only else holds


def active_holds(session: Session, now: datetime) -> list[LegalHold]:
    """The holds in force at ``now``, oldest first."""
    query = select(LegalHold).where(
        LegalHold.lifted_at.is_(None),
        LegalHold.placed_at <= now,
        (LegalHold.until.is_(None)) | (LegalHold.until > now),
    )
    return list(session.scalars(query.order_by(LegalHold.placed_at, LegalHold.id)))


def applies_to_vault(hold: LegalHold) -> bool:
    """A dataset hold reaches the vault only when it names it; the other scopes always do."""
    return hold.scope != "dataset" or hold.target == VAULT


def vault_hold_condition(session: Session, holds: Sequence[LegalHold]) -> ColumnElement[bool]:
    """SQL that is true for the vault items one of ``holds`` covers (false if none does)."""
    clauses: list[ColumnElement[bool]] = []
    subjects: set[str] = set()
    clients: set[str] = set()
    for hold in holds:
        if not applies_to_vault(hold):
            continue
        if hold.scope == "dataset":
            return true()  # the whole vault
        if hold.scope == "subject":
            subjects.update(merged_ids(session, hold.target))
        elif hold.scope == "client":
            clients.add(hold.target)
        else:
            clauses.append(VaultItem.category == hold.target)
            clauses.append(VaultItem.category.startswith(hold.target + ".", autoescape=True))
    if subjects:
        clauses.append(VaultItem.subject_id.in_(sorted(subjects)))
    if clients:
        clauses.append(VaultItem.client.in_(sorted(clients)))
    return or_(*clauses) if clauses else false()
