"""The consent state is the fold of its events: properties against a plain reference model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from troth.consent import ConsentFact, ConsentState, SignalFact, SignalKind, fold
from troth.consent.fold import fold_consents

START = datetime(2026, 1, 1, tzinfo=UTC)
PURPOSES = ("newsletter", "site_analytics", "email_engagement")


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


# Few distinct minutes, so that many events share a time and the order recorded decides.
minutes = st.integers(min_value=0, max_value=12)


@st.composite
def consent_facts(draw: st.DrawFn) -> list[ConsentFact]:
    """Events with distinct sequence numbers, supplied in no particular order."""
    size = draw(st.integers(min_value=0, max_value=14))
    seqs = draw(st.lists(st.integers(1, 1000), min_size=size, max_size=size, unique=True))
    facts = []
    for seq in seqs:
        occurred = draw(minutes)
        lasts = draw(st.none() | st.integers(min_value=1, max_value=10))
        facts.append(
            ConsentFact(
                seq=seq,
                record_id=f"rec-{seq}",
                purpose=draw(st.sampled_from(PURPOSES)),
                state=draw(st.sampled_from(list(ConsentState))),
                occurred_at=at(occurred),
                expires_at=None if lasts is None else at(occurred + lasts),
                acted_by=draw(st.sampled_from(["subject", "parent", "nominee"])),
            )
        )
    return facts


@st.composite
def signal_facts(draw: st.DrawFn) -> list[SignalFact]:
    size = draw(st.integers(min_value=0, max_value=10))
    seqs = draw(st.lists(st.integers(1, 1000), min_size=size, max_size=size, unique=True))
    facts = []
    for seq in seqs:
        kind = draw(st.sampled_from(list(SignalKind)))
        purpose = draw(st.sampled_from([None, *PURPOSES])) if kind is SignalKind.objection else None
        facts.append(SignalFact(seq, kind, draw(st.booleans()), at(draw(minutes)), purpose))
    return facts


renewal_times = st.dictionaries(
    st.sampled_from(PURPOSES), st.lists(minutes.map(at), max_size=3), max_size=3
)


@dataclass(frozen=True)
class Expected:
    state: ConsentState
    since: datetime
    record_id: str
    renewal_required: bool


def reference_consents(
    facts: Sequence[ConsentFact], now: datetime, renewals: Mapping[str, Sequence[datetime]]
) -> tuple[dict[str, Expected], datetime | None]:
    """The obvious model: per purpose, the latest event up to now by (time, seq)."""
    result = {}
    expiries = []
    for purpose in {fact.purpose for fact in facts}:
        seen = [f for f in facts if f.purpose == purpose and f.occurred_at <= now]
        if not seen:
            continue
        last = max(seen, key=lambda f: (f.occurred_at, f.seq))
        state, since = last.state, last.occurred_at
        if state == ConsentState.given and last.expires_at is not None:
            if last.expires_at <= now:
                state, since = ConsentState.expired, last.expires_at
            else:
                expiries.append(last.expires_at)
        renewal = state == ConsentState.given and any(
            last.occurred_at < required <= now for required in renewals.get(purpose, [])
        )
        result[purpose] = Expected(state, since, last.record_id, renewal)
    return result, min(expiries, default=None)


def reference_signals(signals: Sequence[SignalFact], now: datetime) -> dict[str, object]:
    latest: dict[tuple[SignalKind, str | None], SignalFact] = {}
    for signal in signals:
        if signal.occurred_at > now:
            continue
        key = (signal.kind, signal.purpose)
        if key not in latest or (signal.occurred_at, signal.seq) > (
            latest[key].occurred_at,
            latest[key].seq,
        ):
            latest[key] = signal
    on = {key for key, signal in latest.items() if signal.active}
    return {
        "restricted": any(kind is SignalKind.restriction for kind, _ in on),
        "gpc_opt_out": any(kind is SignalKind.gpc_opt_out for kind, _ in on),
        "child": any(kind is SignalKind.child for kind, _ in on),
        "objections": frozenset(p for kind, p in on if kind is SignalKind.objection),
    }


@given(consent_facts(), signal_facts(), minutes.map(at), renewal_times)
def test_the_fold_equals_the_reference_model(
    facts: list[ConsentFact],
    signals: list[SignalFact],
    now: datetime,
    renewals: dict[str, list[datetime]],
) -> None:
    state = fold(facts, signals, now, renewals)
    expected, next_change = reference_consents(facts, now, renewals)
    assert {
        purpose: Expected(c.state, c.since, c.record_id, c.renewal_required)
        for purpose, c in state.consents.items()
    } == expected
    assert state.changes_at == next_change
    assert state.as_of == now
    for purpose, consent in state.consents.items():
        assert consent.active == (
            expected[purpose].state is ConsentState.given and not consent.renewal_required
        )
    signal_state = reference_signals(signals, now)
    assert state.restricted == signal_state["restricted"]
    assert state.gpc_opt_out == signal_state["gpc_opt_out"]
    assert state.child == signal_state["child"]
    assert state.objections == signal_state["objections"]


@given(consent_facts(), signal_facts(), minutes.map(at), renewal_times, st.randoms())
def test_the_fold_does_not_depend_on_the_order_events_are_supplied_in(
    facts: list[ConsentFact],
    signals: list[SignalFact],
    now: datetime,
    renewals: dict[str, list[datetime]],
    random: Random,
) -> None:
    shuffled_facts, shuffled_signals = list(facts), list(signals)
    random.shuffle(shuffled_facts)
    random.shuffle(shuffled_signals)
    assert fold(shuffled_facts, shuffled_signals, now, renewals) == fold(
        facts, signals, now, renewals
    )
    assert fold(reversed(facts), reversed(signals), now, renewals) == fold(
        facts, signals, now, renewals
    )


@given(consent_facts(), consent_facts(), signal_facts(), minutes.map(at))
def test_events_after_now_are_ignored(
    facts: list[ConsentFact],
    later: list[ConsentFact],
    signals: list[SignalFact],
    now: datetime,
) -> None:
    past = [f for f in facts if f.occurred_at <= now]
    future = [
        ConsentFact(
            seq=2000 + f.seq,
            record_id=f"later-{f.seq}",
            purpose=f.purpose,
            state=f.state,
            occurred_at=now + timedelta(seconds=1) + (f.occurred_at - START),
        )
        for f in later
    ]
    future_signals = [
        SignalFact(2000 + s.seq, s.kind, s.active, now + timedelta(seconds=1), s.purpose)
        for s in signals
    ]
    assert fold([*past, *future], future_signals, now) == fold(past, [], now)


def fact(
    seq: int, purpose: str, state: str, minute: int, expires_at: datetime | None = None
) -> ConsentFact:
    return ConsentFact(seq, f"rec-{seq}", purpose, ConsentState(state), at(minute), expires_at)


def test_the_latest_event_wins_and_ties_go_to_the_one_recorded_last() -> None:
    consents, _ = fold_consents(
        [
            fact(3, "newsletter", "withdrawn", 5),
            fact(1, "newsletter", "given", 1),
            fact(2, "newsletter", "given", 5),
            fact(4, "site_analytics", "refused", 2),
        ],
        at(10),
    )
    assert consents["newsletter"].state is ConsentState.withdrawn
    assert consents["newsletter"].record_id == "rec-3"
    assert consents["site_analytics"].state is ConsentState.refused
    assert "email_engagement" not in consents


def test_a_consent_past_its_expiry_is_expired_from_that_moment() -> None:
    facts = [fact(1, "newsletter", "given", 0, expires_at=at(60))]
    consents, changes_at = fold_consents(facts, at(59))
    assert consents["newsletter"].active
    assert changes_at == at(60)
    consents, changes_at = fold_consents(facts, at(60))
    assert consents["newsletter"].state is ConsentState.expired
    assert consents["newsletter"].since == at(60)
    assert not consents["newsletter"].active
    assert changes_at is None
    # A refusal carries no expiry that could bring consent back, or move the state later.
    consents, changes_at = fold_consents(
        [*facts, fact(2, "newsletter", "refused", 10, expires_at=at(20))], at(30)
    )
    assert (consents["newsletter"].state, changes_at) == (ConsentState.refused, None)


def test_renewal_marks_only_consent_given_before_it_was_required() -> None:
    facts = [fact(1, "newsletter", "given", 0), fact(2, "site_analytics", "given", 20)]
    renewals = {"newsletter": [at(10)], "site_analytics": [at(10)]}
    consents, _ = fold_consents(facts, at(30), renewals)
    assert consents["newsletter"].renewal_required
    assert not consents["newsletter"].active
    assert consents["newsletter"].state is ConsentState.given
    assert not consents["site_analytics"].renewal_required
    # A renewal not yet in force marks nothing.
    consents, _ = fold_consents(facts, at(5), renewals)
    assert not consents["newsletter"].renewal_required
    # Consent given again after the renewal is active.
    consents, _ = fold_consents([*facts, fact(3, "newsletter", "given", 25)], at(30), renewals)
    assert consents["newsletter"].active


def test_signals_are_raised_and_lifted() -> None:
    signals = [
        SignalFact(1, SignalKind.restriction, True, at(1)),
        SignalFact(2, SignalKind.objection, True, at(1), "newsletter"),
        SignalFact(3, SignalKind.gpc_opt_out, True, at(2)),
        SignalFact(4, SignalKind.child, True, at(2)),
        SignalFact(5, SignalKind.restriction, False, at(3)),
        SignalFact(6, SignalKind.objection, True, at(4)),
    ]
    state = fold([], signals, at(2))
    assert (state.restricted, state.gpc_opt_out, state.child) == (True, True, True)
    assert state.objects_to("newsletter")
    assert not state.objects_to("site_analytics")
    state = fold([], signals, at(4))
    assert not state.restricted
    assert state.objects_to("site_analytics")  # the general objection covers every purpose
    lifted = fold([], [*signals, SignalFact(7, SignalKind.objection, False, at(5))], at(5))
    assert lifted.objects_to("newsletter")  # lifting the general objection keeps the narrow one
    assert not lifted.objects_to("site_analytics")
