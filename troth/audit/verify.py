"""Re-compute the audit chain and find the first event that was altered, removed or reordered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .chain import GENESIS_HASH, event_hash
from .models import AuditEvent
from .reading import DEFAULT_BATCH, stream_events

Problem = Literal["altered", "removed", "reordered"]


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify_chain`.

    ``count`` is the number of events verified: all of them when ``ok``, otherwise those before
    ``first_bad_seq``. ``last_hash`` is the hash of the last good event (record it somewhere
    else: removing events from the end of the chain can only be seen against such a record).
    """

    ok: bool
    count: int
    first_bad_seq: int | None = None
    problem: Problem | None = None
    reason: str | None = None
    last_hash: str = GENESIS_HASH

    @property
    def message(self) -> str:
        if self.ok:
            return f"{self.count} events verified"
        return f"event seq {self.first_bad_seq}: {self.problem} — {self.reason}"


def verify_chain(session: Session, batch_size: int = DEFAULT_BATCH) -> VerifyResult:
    """Walk the chain in ``seq`` order, re-computing every hash; stop at the first broken link.

    - **removed**: a ``seq`` is missing, or an event's ``prev_hash`` is not the hash of the
      event before it and matches no event in the chain;
    - **reordered**: an event's ``prev_hash`` is the hash of an event elsewhere in the chain;
    - **altered**: an event's content no longer gives its stored hash.
    """
    count = 0
    prev_hash = GENESIS_HASH
    for event in stream_events(session, batch_size):
        bad = _first_problem(session, event, count + 1, prev_hash)
        if bad is not None:
            problem, bad_seq, reason = bad
            return VerifyResult(False, count, bad_seq, problem, reason, prev_hash)
        count += 1
        prev_hash = event["hash"]
    return VerifyResult(True, count, last_hash=prev_hash)


def _first_problem(
    session: Session, event: dict[str, Any], expected: int, prev_hash: str
) -> tuple[Problem, int, str] | None:
    """What is wrong at ``event``, given the seq and hash the chain expects there, if anything."""
    seq = event["seq"]
    if seq != expected:
        missing = f"seq {expected} is" if seq == expected + 1 else f"seqs {expected}–{seq - 1} are"
        return "removed", expected, f"{missing} missing (the next event is seq {seq})"
    intact = event_hash(event) == event["hash"]
    if event["prev_hash"] == prev_hash:
        if intact:
            return None
        return "altered", seq, "its content no longer matches its hash"
    # The link back is broken: find the event this one was chained to, if it is still there.
    linked_seq = session.scalar(
        select(AuditEvent.seq).where(AuditEvent.hash == event["prev_hash"]).limit(1)
    )
    if linked_seq is not None:
        return (
            "reordered",
            seq,
            f"it was chained after event seq {linked_seq}, not after seq {seq - 1}",
        )
    before = "the start of the chain" if seq == 1 else f"event seq {seq - 1}"
    return (
        "removed",
        seq,
        f"its prev_hash matches no event: an event between {before} and this one was removed "
        "(or the event before it replaced)",
    )
