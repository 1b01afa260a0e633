"""The retention deadline of a collected item, computed when it is collected (P17).

Which rules cover an item: a rule naming the item's category (or a category above it), its
purpose, or a subject that the item's source or purpose declares (matched exactly, as in the
declaration's own check).

When several rules cover one item, one of them governs it:

1. If any covering rule has a ``legal_basis`` (tax records kept 7 years under a legal
   obligation), those rules hold the item: the *latest* of their deadlines wins, and the rules
   without a legal basis do not shorten it.
2. Otherwise the *earliest* deadline wins (minimisation: the item is kept no longer than any
   rule that covers it allows).

An item collected for a client (``client``) counts that client's terms under each rule that
allows a per-client override (``per_client_override: true``): the client's agreed period, if one
was set, replaces the rule's, and the rule's clock starts at the client's event (its contract
ending), not the subject's. The other rules covering the item run on the subject's events.

Between equal deadlines the rule declared first governs. A rule whose clock starts at an event
that has not happened yet for the subject has no deadline yet. Among holding rules it counts as
the latest (the item waits for that event, ``waiting_for``, with no deadline); among the others
it loses to any known deadline, and the item waits only if no rule gives one. Recording the
event computes the deadline again, so a limit that comes due sooner than the stored one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from troth.declaration import Policy
from troth.declaration.durations import Duration
from troth.declaration.model import RetentionRule
from troth.declaration.taxonomy import is_under

COLLECTED = "collected"

# A rule and the deadline it gives, None while its clock waits for an event.
Clock = tuple[RetentionRule, datetime | None]


@dataclass(frozen=True)
class ClientTerms:
    """What one client's items count under the rules that allow a per-client override: the
    client's events so far (the latest time of each) and its agreed periods, by rule key."""

    events: Mapping[str, datetime]
    periods: Mapping[str, Duration]


@dataclass(frozen=True)
class Deadline:
    """The governing rule and its deadline, or the event its clock waits for."""

    rule: str
    retain_until: datetime | None
    waiting_for: str | None


def covering_rules(
    policy: Policy, *, category: str, source: str, purpose: str
) -> list[RetentionRule]:
    """The declared rules that cover an item, in declaration order."""
    decl = policy.declaration
    subjects = set(policy.purposes[purpose].subjects)
    source_row = next((s for s in decl.sources if s.key == source), None)
    if source_row is not None:
        subjects.update(source_row.subjects)
    return [
        rule
        for rule in decl.retention
        if any(is_under(category, c) for c in rule.applies_to.categories)
        or purpose in rule.applies_to.purposes
        or subjects.intersection(rule.applies_to.subjects)
    ]


def _clock(
    rule: RetentionRule,
    collected_at: datetime,
    events: Mapping[str, datetime],
    client: ClientTerms | None,
) -> datetime | None:
    period = rule.period
    if client is not None and rule.per_client_override:
        events = client.events
        period = client.periods.get(rule.key, period)
    start = collected_at if rule.starts_at == COLLECTED else events.get(rule.starts_at)
    return None if start is None else period.add_to(start)


def deadline(
    rules: list[RetentionRule],
    collected_at: datetime,
    events: Mapping[str, datetime],
    client: ClientTerms | None = None,
) -> Deadline:
    """The deadline ``rules`` give an item collected at ``collected_at``, given the subject's
    events so far (the latest time of each) and, for an item collected for a client, the
    client's terms. ``rules`` must not be empty."""
    if not rules:
        raise ValueError("no retention rule covers this item")
    clocks = [(rule, _clock(rule, collected_at, events, client)) for rule in rules]
    holds = [(rule, due) for rule, due in clocks if rule.legal_basis is not None]
    chosen = _latest(holds) if holds else _earliest(clocks)
    assert chosen is not None
    return _as_deadline(*chosen)


def _latest(clocks: list[Clock]) -> Clock | None:
    return _pick(clocks, later=True)


def _earliest(clocks: list[Clock]) -> Clock | None:
    return _pick(clocks, later=False)


def _pick(clocks: list[Clock], *, later: bool) -> Clock | None:
    """The first rule with the latest (or earliest) deadline; unknown counts as latest."""
    best: Clock | None = None
    for clock in clocks:
        if best is None or _beats(clock[1], best[1], later=later):
            best = clock
    return best


def _beats(due: datetime | None, current: datetime | None, *, later: bool) -> bool:
    if later:
        return current is not None and (due is None or due > current)
    return due is not None and (current is None or due < current)


def _as_deadline(rule: RetentionRule, due: datetime | None) -> Deadline:
    return Deadline(rule.key, due, None if due is not None else rule.starts_at)
