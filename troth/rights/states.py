"""The kinds of request and the states a request moves through, as an explicit state machine.

::

    received ─verify─▶ verified ─review─▶ in_review ─approve─▶ approved ─▶ executing ─▶ completed
        │                  │                  │
        └──────────────────┴──────────────────┴─deny─▶ denied

A request leaves ``received`` only when its requester's identity was verified (P15), or is
denied because it could not be. ``denied`` and ``completed`` are final. Whether the deadline was
extended is a flag beside the state, not a state: an extended request is still in review or
executing. Any other move is refused with :class:`IllegalTransition`.
"""

from __future__ import annotations

from enum import StrEnum


class RequestKind(StrEnum):
    access = "access"
    correction = "correction"
    erasure = "erasure"
    portability = "portability"
    restriction = "restriction"
    objection = "objection"
    opt_out_marketing = "opt_out_marketing"
    withdraw_consent = "withdraw_consent"
    stop_tracking = "stop_tracking"


class ActingAs(StrEnum):
    """On whose behalf: one's own, a child's (a parent), or someone who nominated the requester."""

    self = "self"
    parent = "parent"
    nominee = "nominee"


class RequestState(StrEnum):
    received = "received"
    verified = "verified"
    in_review = "in_review"
    approved = "approved"
    denied = "denied"
    executing = "executing"
    completed = "completed"


TRANSITIONS: dict[RequestState, frozenset[RequestState]] = {
    RequestState.received: frozenset({RequestState.verified, RequestState.denied}),
    RequestState.verified: frozenset({RequestState.in_review, RequestState.denied}),
    RequestState.in_review: frozenset({RequestState.approved, RequestState.denied}),
    RequestState.approved: frozenset({RequestState.executing}),
    RequestState.executing: frozenset({RequestState.completed}),
    RequestState.denied: frozenset(),
    RequestState.completed: frozenset(),
}
FINAL = frozenset({RequestState.denied, RequestState.completed})
OPEN = frozenset(RequestState) - FINAL


class IllegalTransition(ValueError):
    """A move the state machine does not allow; the message names both states and the options."""

    def __init__(self, request_id: str, current: RequestState, wanted: RequestState) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        super().__init__(
            f"request {request_id}: cannot go from {current.value} to {wanted.value}; "
            f"from {current.value} it can go to {allowed}"
        )
        self.request_id = request_id
        self.current = current
        self.wanted = wanted


def check_transition(request_id: str, current: str, wanted: str) -> RequestState:
    """The wanted state, if the move from ``current`` is allowed; IllegalTransition if not."""
    now_state, next_state = RequestState(current), RequestState(wanted)
    if next_state not in TRANSITIONS[now_state]:
        raise IllegalTransition(request_id, now_state, next_state)
    return next_state
