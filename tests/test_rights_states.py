"""The request state machine: every allowed move, and every other one refused by name."""

from __future__ import annotations

import pytest

from troth.rights import TRANSITIONS, IllegalTransition, RequestState, check_transition

ALLOWED = {
    ("received", "verified"),
    ("received", "denied"),
    ("verified", "in_review"),
    ("verified", "denied"),
    ("in_review", "approved"),
    ("in_review", "denied"),
    ("approved", "executing"),
    ("executing", "completed"),
}


@pytest.mark.parametrize("current", list(RequestState))
@pytest.mark.parametrize("wanted", list(RequestState))
def test_only_the_declared_moves_are_allowed(current: RequestState, wanted: RequestState) -> None:
    if (current.value, wanted.value) in ALLOWED:
        assert check_transition("r-1", current, wanted) is wanted
    else:
        with pytest.raises(IllegalTransition) as refused:
            check_transition("r-1", current, wanted)
        message = str(refused.value)
        assert f"from {current.value} to {wanted.value}" in message
        assert "r-1" in message


def test_the_table_is_the_documented_machine() -> None:
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


def test_final_states_say_so() -> None:
    with pytest.raises(IllegalTransition, match="none: it is final"):
        check_transition("r-2", "completed", "executing")
    with pytest.raises(IllegalTransition, match="none: it is final"):
        check_transition("r-2", "denied", "approved")


def test_a_request_cannot_skip_verification() -> None:
    for wanted in ("in_review", "approved", "executing", "completed"):
        with pytest.raises(IllegalTransition, match="can go to denied, verified"):
            check_transition("r-3", "received", wanted)
