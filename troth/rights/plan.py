"""What a request will do over troth's own store, before it does it (P10–P13, P23).

The plan names every vault item the request reads or erases, and every item it keeps and why: an
item is held when the retention rule governing it has a legal basis (a legal obligation, a
contract) and its deadline has not passed, or its clock still waits for the event that starts it
(a project's completion), or when a legal hold in force covers it (P20: troth.retention.holds;
reported under the rule ``legal_hold``). A held item is kept, restricted, and reported with its
rule and reason.
The plan also lists the declared recipients that received the affected categories for the
affected purposes: each gets a "notify recipient" task (GDPR Art. 19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.datasets.run import LEGAL_HOLD
from troth.declaration import Policy
from troth.declaration.model import RetentionRule
from troth.declaration.taxonomy import is_under
from troth.retention.holds import active_holds, vault_hold_condition
from troth.subjects import Keyring
from troth.subjects.registry import merged_ids
from troth.vault import VaultItem

from .models import RightsRequest
from .sealed import unseal
from .states import RequestKind

# Requests that change what recipients hold, and so call for telling them.
TELLS_RECIPIENTS = frozenset({RequestKind.correction, RequestKind.erasure, RequestKind.restriction})
READS = frozenset({RequestKind.access, RequestKind.portability})


@dataclass(frozen=True)
class PlannedItem:
    id: int
    category: str
    purpose: str


@dataclass(frozen=True)
class KeptItem:
    """An item erasure leaves in place, and why."""

    id: int
    category: str
    purpose: str
    rule: str
    rule_name: str
    legal_basis: str
    reason: str | None
    retain_until: datetime | None
    waiting_for: str | None

    def as_json(self) -> dict[str, str | int | None]:
        return {
            "item_id": self.id,
            "category": self.category,
            "purpose": self.purpose,
            "rule": self.rule,
            "rule_name": self.rule_name,
            "legal_basis": self.legal_basis,
            "reason": self.reason,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
            "waiting_for": self.waiting_for,
        }


@dataclass(frozen=True)
class RecipientNotice:
    recipient: str
    name: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    kind: str
    read: tuple[PlannedItem, ...]
    erase: tuple[PlannedItem, ...]
    correct: tuple[PlannedItem, ...]
    keep: tuple[KeptItem, ...]
    recipients: tuple[RecipientNotice, ...]

    @property
    def shred_key(self) -> bool:
        """An erasure that keeps nothing destroys the subject's key too (crypto-shredding)."""
        return self.kind == RequestKind.erasure and not self.keep


def holding_rule(policy: Policy, item: VaultItem, now: datetime) -> RetentionRule | None:
    """The rule that requires ``item`` to be kept at ``now``, or None if it may be erased."""
    rule = policy.retention_rules.get(item.retention_rule)
    if rule is None or rule.legal_basis is None:
        return None
    if item.retain_until is not None and item.retain_until <= now:
        return None
    return rule


def subject_items(session: Session, subject_id: str) -> list[VaultItem]:
    ids = merged_ids(session, subject_id)
    return list(
        session.scalars(
            select(VaultItem)
            .where(VaultItem.subject_id.in_(ids))
            .order_by(VaultItem.collected_at, VaultItem.id)
        )
    )


def recipients_for(policy: Policy, items: list[PlannedItem]) -> tuple[RecipientNotice, ...]:
    """Declared recipients of any of these items' categories for the items' purposes."""
    found = []
    for recipient in policy.declaration.recipients:
        shared = sorted(
            {
                item.category
                for item in items
                if any(is_under(item.category, c) for c in recipient.categories)
                and (not recipient.purposes or item.purpose in recipient.purposes)
            }
        )
        if shared:
            found.append(RecipientNotice(recipient.key, recipient.name, tuple(shared)))
    return tuple(found)


def _planned(item: VaultItem) -> PlannedItem:
    return PlannedItem(item.id, item.category, item.purpose)


def _kept(item: VaultItem, rule: RetentionRule) -> KeptItem:
    assert rule.legal_basis is not None
    return KeptItem(
        id=item.id,
        category=item.category,
        purpose=item.purpose,
        rule=rule.key,
        rule_name=rule.name,
        legal_basis=rule.legal_basis,
        reason=rule.reason,
        retain_until=item.retain_until,
        waiting_for=item.waiting_for,
    )


def legally_held(session: Session, item_ids: list[int], now: datetime) -> set[int]:
    """The ids among ``item_ids`` that a legal hold in force covers (P20: holds suspend
    deletion, an erasure request's included)."""
    holds = active_holds(session, now)
    if not holds or not item_ids:
        return set()
    condition = vault_hold_condition(session, holds)
    held: set[int] = set()
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        held |= set(session.scalars(select(VaultItem.id).where(VaultItem.id.in_(chunk), condition)))
    return held


def _on_hold(item: VaultItem) -> KeptItem:
    return KeptItem(
        id=item.id,
        category=item.category,
        purpose=item.purpose,
        rule=LEGAL_HOLD,
        rule_name="Legal hold",
        legal_basis=LEGAL_HOLD,
        reason="A legal hold suspends deletion until it is lifted",
        retain_until=None,
        waiting_for="the legal hold is lifted",
    )


def proposed_values(session: Session, keyring: Keyring, request: RightsRequest) -> dict[str, str]:
    """A correction's proposed values, decrypted for staff review (empty for other kinds)."""
    if request.proposed is None:
        return {}
    values: dict[str, str] = unseal(
        session, keyring, request.subject_id, request.id, "proposed", request.proposed
    )
    return values


def read_proposed_values(
    session: Session,
    keyring: Keyring,
    request: RightsRequest,
    *,
    actor: Actor,
    now: datetime,
    policy_version: str | None = None,
) -> dict[str, str]:
    """A correction's proposed values for the member of staff reviewing it, with the audit event
    ``rights.proposed_values_read`` (the request and the categories, never a value) in the
    caller's transaction: a staff read of personal data is always on the record (P22)."""
    values = proposed_values(session, keyring, request)
    record_event(
        session,
        actor=actor,
        action="rights.proposed_values_read",
        subject_id=request.subject_id,
        policy_version=policy_version,
        details={"request_id": request.id, "categories": sorted(values)},
        now=now,
    )
    return values


def plan_request(
    session: Session, policy: Policy, keyring: Keyring, request: RightsRequest, now: datetime
) -> Plan:
    """The plan for ``request`` as of ``now`` (reads nothing but ids, rules and categories)."""
    kind = RequestKind(request.kind)
    items = subject_items(session, request.subject_id)
    read: list[PlannedItem] = []
    erase: list[PlannedItem] = []
    correct: list[PlannedItem] = []
    keep: list[KeptItem] = []
    if kind in READS:
        read = [_planned(item) for item in items]
    elif kind is RequestKind.erasure:
        on_hold = legally_held(session, [item.id for item in items], now)
        for item in items:
            rule = holding_rule(policy, item, now)
            if rule is not None:
                keep.append(_kept(item, rule))
            elif item.id in on_hold:
                keep.append(_on_hold(item))
            else:
                erase.append(_planned(item))
    elif kind is RequestKind.correction:
        wanted = proposed_values(session, keyring, request)
        correct = [_planned(item) for item in items if item.category in wanted]
    affected: list[PlannedItem] = []
    if kind in TELLS_RECIPIENTS:
        affected = (
            [_planned(item) for item in items]
            if kind is RequestKind.restriction
            else erase + correct
        )
    return Plan(
        kind=kind.value,
        read=tuple(read),
        erase=tuple(erase),
        correct=tuple(correct),
        keep=tuple(keep),
        recipients=recipients_for(policy, affected),
    )
