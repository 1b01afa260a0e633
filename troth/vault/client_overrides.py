"""A client's agreed retention period: "client data as agreed per client" (P17).

A rule that says ``per_client_override: true`` (Kestrel's ``client_app_data``: 30 days after the
client's contract ends) may be given another period for one client, as its contract says. The
override replaces the rule's period for the items collected for that client, at collection and
whenever their deadline is computed again. Setting, changing or clearing one recomputes at once
the deadlines of the client's items under that rule (an item whose clock waits for the client's
event keeps waiting), and writes an audit event with the client's key, the rule, the period and
how many items changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Policy
from troth.declaration.durations import Duration

from .client_events import refresh_client_deadlines
from .clients import client_key_problem, client_rules
from .models import PERIOD_MAX_LENGTH, ClientOverride


class OverrideRefused(ValueError):
    """An override that cannot be set or cleared as asked; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownOverride(LookupError):
    def __init__(self, client: str, rule: str) -> None:
        super().__init__(
            f"client {client} has no agreed period for rule {rule}; "
            "`troth clients overrides` lists them"
        )
        self.client = client
        self.rule = rule


@dataclass(frozen=True)
class OverrideChanged:
    """An override set or cleared, and how many of the client's items got a new deadline:
    ``period`` is the agreed period now (None once cleared), ``previous`` the one before."""

    client: str
    rule: str
    period: Duration | None
    previous: Duration | None
    items_updated: int


def _checked(policy: Policy, client: str, rule: str) -> None:
    problem = client_key_problem(client)
    if problem is not None:
        raise OverrideRefused("client", problem)
    allowed = [r.key for r in client_rules(policy)]
    if rule not in allowed:
        declared = any(r.key == rule for r in policy.declaration.retention)
        reason = (
            "does not allow a per-client period (it has no per_client_override: true)"
            if declared
            else "is not a retention rule the declaration declares"
        )
        hint = (
            "; the rules that do: " + ", ".join(allowed)
            if allowed
            else "; no rule of this declaration does"
        )
        raise OverrideRefused("rule", reason + hint)


def _computable(period: Duration, now: datetime) -> bool:
    """Whether a deadline ``period`` after now is a date at all (not past the year 9999)."""
    try:
        period.add_to(now)
    except (ValueError, OverflowError):
        return False
    return True


def _find(session: Session, client: str, rule: str) -> ClientOverride | None:
    return session.scalars(
        select(ClientOverride).where(ClientOverride.client == client, ClientOverride.rule == rule)
    ).one_or_none()


def set_override(
    session: Session,
    policy: Policy,
    *,
    client: str,
    rule: str,
    period: str | Duration,
    now: datetime,
    actor: Actor,
) -> OverrideChanged:
    """Set (or change) the period agreed with ``client`` for ``rule``, recompute the deadlines
    of the client's items under it, and write ``retention.client_override_set``, in the
    caller's transaction. Raises :class:`OverrideRefused` naming the input at fault."""
    _checked(policy, client, rule)
    if isinstance(period, Duration):
        agreed = period
    else:
        try:
            agreed = Duration.parse(period)
        except ValueError as exc:
            raise OverrideRefused("period", str(exc)) from None
    if agreed.approx_days() == 0:
        raise OverrideRefused("period", "is zero; give the agreed period, e.g. P90D or P1Y")
    if len(agreed.iso()) > PERIOD_MAX_LENGTH or not _computable(agreed, now):
        raise OverrideRefused("period", "is too long: no deadline that far ahead can be computed")
    row = _find(session, client, rule)
    previous = Duration.parse(row.period) if row is not None else None
    if row is None:
        row = ClientOverride(client=client, rule=rule)
        session.add(row)
    row.period = agreed.iso()
    row.set_at = now
    row.policy_version = policy.version
    session.flush()
    updated = refresh_client_deadlines(session, policy, client, {rule})
    record_event(
        session,
        actor=actor,
        action="retention.client_override_set",
        policy_version=policy.version,
        details={
            "client": client,
            "rule": rule,
            "period": agreed.iso(),
            "previous": previous.iso() if previous is not None else None,
            "items_updated": updated,
        },
        now=now,
    )
    return OverrideChanged(client, rule, agreed, previous, updated)


def clear_override(
    session: Session,
    policy: Policy,
    *,
    client: str,
    rule: str,
    now: datetime,
    actor: Actor,
) -> OverrideChanged:
    """Remove the period agreed with ``client`` for ``rule``: its items go back to the rule's
    own period. Writes ``retention.client_override_cleared``. Raises :class:`UnknownOverride`
    when there is none; :class:`OverrideRefused` for a malformed client key."""
    problem = client_key_problem(client)
    if problem is not None:
        raise OverrideRefused("client", problem)
    row = _find(session, client, rule)
    if row is None:
        raise UnknownOverride(client, rule)
    cleared = Duration.parse(row.period)
    session.delete(row)
    session.flush()
    declared = next((r for r in policy.declaration.retention if r.key == rule), None)
    updated = refresh_client_deadlines(session, policy, client, {rule} if declared else set())
    record_event(
        session,
        actor=actor,
        action="retention.client_override_cleared",
        policy_version=policy.version,
        details={
            "client": client,
            "rule": rule,
            "period": cleared.iso(),
            "items_updated": updated,
        },
        now=now,
    )
    return OverrideChanged(client, rule, None, cleared, updated)


def list_overrides(session: Session, client: str | None = None) -> list[ClientOverride]:
    """The agreed periods, by client then rule; only ``client``'s when given."""
    query = select(ClientOverride)
    if client is not None:
        query = query.where(ClientOverride.client == client)
    return list(session.scalars(query.order_by(ClientOverride.client, ClientOverride.rule)))
