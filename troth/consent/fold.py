"""The current consent state of a subject: the fold of its consent events and signals.

Pure functions over plain values, so that the same fold serves the decision cache, the API and
the property tests. Nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .models import ConsentState, SignalKind


@dataclass(frozen=True)
class ConsentFact:
    """What the fold needs of one consent event."""

    seq: int
    record_id: str
    purpose: str
    state: ConsentState
    occurred_at: datetime
    expires_at: datetime | None = None
    policy_version: str = ""
    method: str = "api"
    acted_by: str = "subject"


@dataclass(frozen=True)
class SignalFact:
    """What the fold needs of one subject signal."""

    seq: int
    kind: SignalKind
    active: bool
    occurred_at: datetime
    purpose: str | None = None


@dataclass(frozen=True)
class PurposeConsent:
    """The state of one purpose's consent now, with the event it comes from."""

    purpose: str
    state: ConsentState
    since: datetime
    record_id: str
    policy_version: str
    method: str
    acted_by: str
    expires_at: datetime | None
    renewal_required: bool = False

    @property
    def active(self) -> bool:
        return self.state is ConsentState.given and not self.renewal_required


@dataclass(frozen=True)
class SubjectState:
    """Everything a decision about one subject needs, as of ``as_of``."""

    as_of: datetime
    consents: Mapping[str, PurposeConsent] = field(default_factory=dict)
    restricted: bool = False
    objections: frozenset[str | None] = frozenset()
    gpc_opt_out: bool = False
    child: bool = False
    # The earliest moment after ``as_of`` at which this state changes by itself (an expiry).
    changes_at: datetime | None = None

    def objects_to(self, purpose: str) -> bool:
        return None in self.objections or purpose in self.objections


def _order(fact: ConsentFact | SignalFact) -> tuple[datetime, int]:
    return (fact.occurred_at, fact.seq)


def fold_consents(
    facts: Iterable[ConsentFact],
    now: datetime,
    renewals: Mapping[str, Sequence[datetime]] | None = None,
) -> tuple[dict[str, PurposeConsent], datetime | None]:
    """The latest event per purpose (by time, then by the order recorded), expiry applied.

    A consent given before a renewal became required for its purpose is marked
    ``renewal_required``. Returns the states and the earliest future expiry, if any.
    """
    latest: dict[str, ConsentFact] = {}
    for fact in sorted(facts, key=_order):
        if fact.occurred_at <= now:
            latest[fact.purpose] = fact
    states: dict[str, PurposeConsent] = {}
    next_change: datetime | None = None
    for purpose, fact in latest.items():
        state = fact.state
        since = fact.occurred_at
        if state is ConsentState.given and fact.expires_at is not None:
            if fact.expires_at <= now:
                state, since = ConsentState.expired, fact.expires_at
            elif next_change is None or fact.expires_at < next_change:
                next_change = fact.expires_at
        renewal = state is ConsentState.given and any(
            fact.occurred_at < required <= now for required in (renewals or {}).get(purpose, ())
        )
        states[purpose] = PurposeConsent(
            purpose=purpose,
            state=state,
            since=since,
            record_id=fact.record_id,
            policy_version=fact.policy_version,
            method=fact.method,
            acted_by=fact.acted_by,
            expires_at=fact.expires_at,
            renewal_required=renewal,
        )
    return states, next_change


def fold(
    consents: Iterable[ConsentFact],
    signals: Iterable[SignalFact],
    now: datetime,
    renewals: Mapping[str, Sequence[datetime]] | None = None,
) -> SubjectState:
    """The subject's state now: consent per purpose and the latest of each signal."""
    states, next_change = fold_consents(consents, now, renewals)
    latest: dict[tuple[SignalKind, str | None], bool] = {}
    for signal in sorted(signals, key=_order):
        if signal.occurred_at <= now:
            latest[(signal.kind, signal.purpose)] = signal.active
    objections = frozenset(
        purpose for (kind, purpose), on in latest.items() if kind is SignalKind.objection and on
    )
    return SubjectState(
        as_of=now,
        consents=states,
        restricted=any(on for (k, _), on in latest.items() if k is SignalKind.restriction),
        objections=objections,
        gpc_opt_out=any(on for (k, _), on in latest.items() if k is SignalKind.gpc_opt_out),
        child=any(on for (k, _), on in latest.items() if k is SignalKind.child),
        changes_at=next_change,
    )
