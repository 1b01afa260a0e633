"""The decision cache: "may I?" answered from memory, kept correct across processes.

Each process keeps every purpose's decision for the subjects it was asked about. An entry is
dropped

- at once, in this process, when a transaction that changed the subject commits (a session
  ``after_commit`` hook reads the subjects the ledger noted in ``session.info``);
- within ``poll_interval`` (250 ms by default), in every other process: each cache polls the
  ``consent_changes`` feed, which every ledger write appends one row to (listing the subjects
  it changed) in its own transaction;
- when it expires by itself (a consent's expiry time passes).

The feed is read with a look-back window, so a transaction that committed late with a lower
sequence number than one already seen is not missed. If the feed cannot be read, the cache
empties itself: answers then come from the database, or fail loudly, but are never stale.
See docs/consent.md.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from troth.declaration import Policy
from troth.store import write_scope
from troth.subjects.registry import UnknownSubject, get_subject, merged_ids

from .decide import Decision, Reason, Rules, decide
from .fold import SubjectState
from .ledger import TOUCHED
from .models import ConsentChange
from .reading import load_states, renewals

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# How far back the feed is re-read: a writer that takes longer than this between inserting its
# change row and committing could be missed (ledger transactions take milliseconds).
LOOK_BACK_SECONDS = 10.0
KEEP_FEED = timedelta(hours=1)
PRUNE_EVERY_SECONDS = 600.0


class _Entry:
    __slots__ = ("decisions", "valid_until")

    def __init__(self, decisions: dict[str, Decision], valid_until: float) -> None:
        self.decisions = decisions
        self.valid_until = valid_until


class DecisionCache:
    """Decisions for ``policy`` from the ledger behind ``sessions``; see the module docstring.

    ``allows`` is safe to call from many threads. Call :meth:`start` to follow other processes'
    writes, and :meth:`close` when done.
    """

    def __init__(
        self,
        policy: Policy,
        sessions: sessionmaker[Session],
        *,
        clock: Clock | None = None,
        jurisdiction: str | None = None,
        poll_interval: float = 0.25,
        max_subjects: int = 1_000_000,
    ) -> None:
        self.policy = policy
        self.rules = Rules.compile(policy, jurisdiction)
        self.poll_interval = poll_interval
        self.max_subjects = max_subjects
        self._sessions = sessions
        self._clock: Clock = clock or _utc_now
        self._time: Callable[[], float] = (
            time.time if clock is None else (lambda: self._clock().timestamp())
        )
        self._entries: dict[str, _Entry] = {}
        self._aliases: dict[str, set[str]] = {}
        self._undeclared: dict[str, Decision] = {}
        self._epoch = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._floor = 0
        self._seen: set[int] = set()
        self._marks: deque[tuple[float, int]] = deque()
        # The first pass is due at once (monotonic time starts near zero on a freshly booted
        # machine, so 0.0 would postpone it).
        self._last_prune = -math.inf
        self.polls = 0
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_transaction_end", self._after_transaction_end)

    # The hot path ------------------------------------------------------------------------------

    def allows(self, subject_id: str, purpose: str) -> Decision:
        """The decision for ``subject_id`` and ``purpose`` (a Decision is truthy when allowed)."""
        entry = self._entries.get(subject_id)
        if entry is None or entry.valid_until <= self._time():
            entry = self._load(subject_id)
        decision = entry.decisions.get(purpose)
        return decision if decision is not None else self._undeclared_purpose(purpose)

    def peek(self, subject_id: str, purpose: str) -> Decision | None:
        """The decision if it can be answered from memory now, else None (never queries)."""
        entry = self._entries.get(subject_id)
        if entry is None or entry.valid_until <= self._time():
            return None
        decision = entry.decisions.get(purpose)
        return decision if decision is not None else self._undeclared_purpose(purpose)

    def decide_many(self, pairs: Iterable[tuple[str, str]]) -> list[Decision]:
        return [self.allows(subject_id, purpose) for subject_id, purpose in pairs]

    def _undeclared_purpose(self, purpose: str) -> Decision:
        decision = self._undeclared.get(purpose)
        if decision is None:
            decision = Decision(False, Reason.undeclared_purpose, purpose)
            if len(self._undeclared) < 10_000:
                self._undeclared[purpose] = decision
        return decision

    def _load(self, subject_id: str) -> _Entry:
        epoch = self._epoch
        now = self._clock()
        canonical = subject_id
        with self._sessions() as session:
            try:
                canonical = get_subject(session, subject_id).id
            except UnknownSubject:
                state = SubjectState(as_of=now)
            else:
                ids = merged_ids(session, canonical)
                state = load_states(session, ids, now, renewals(session))
        decisions = {key: decide(self.rules, state, key) for key in self.rules.purposes}
        valid_until = state.changes_at.timestamp() if state.changes_at else math.inf
        entry = _Entry(decisions, valid_until)
        with self._lock:
            # Had anything been invalidated while this was read, the read may be stale: answer
            # from it this once, but do not keep it.
            if self._epoch == epoch:
                if len(self._entries) >= self.max_subjects:
                    self._evict()
                self._entries[subject_id] = entry
                if canonical != subject_id:
                    self._aliases.setdefault(canonical, set()).add(subject_id)
        return entry

    def _evict(self) -> None:
        # The oldest tenth goes (dicts keep insertion order); called with the lock held.
        for key in list(self._entries)[: max(1, len(self._entries) // 10)]:
            del self._entries[key]

    # Invalidation ------------------------------------------------------------------------------

    def invalidate(self, subject_ids: Iterable[str | None]) -> None:
        """Forget these subjects' decisions (``None``: every subject's)."""
        with self._lock:
            self._epoch += 1
            for subject_id in subject_ids:
                if subject_id is None:
                    self._entries.clear()
                    self._aliases.clear()
                    return
                self._entries.pop(subject_id, None)
                for alias in self._aliases.pop(subject_id, ()):
                    self._entries.pop(alias, None)

    def clear(self) -> None:
        self.invalidate([None])

    def _after_commit(self, session: Session) -> None:
        # Releasing a savepoint fires this too, but only the outermost commit makes the writes
        # visible: invalidating earlier would let a read in between cache the old state again.
        if session.in_nested_transaction():
            return
        # Read, not taken: every cache listening on these sessions must see the same marks.
        touched = session.info.get(TOUCHED)
        if touched:
            self.invalidate(touched)

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        # The marks belong to the outermost transaction: a savepoint rolled back inside it does
        # not undo the writes made before the savepoint. Every after_commit has run by now.
        if transaction.parent is None:
            session.info.pop(TOUCHED, None)

    # Following other processes -----------------------------------------------------------------

    def start(self) -> DecisionCache:
        """Begin following the change feed in a background thread."""
        if self._thread is None:
            with self._sessions() as session:
                # Re-read the last moments of the feed too: a transaction in flight now may
                # commit a change with a lower sequence number than the newest one.
                since = self._clock() - timedelta(seconds=LOOK_BACK_SECONDS)
                recent = session.scalar(
                    select(func.min(ConsentChange.seq)).where(ConsentChange.changed_at >= since)
                )
                newest = session.scalar(select(func.max(ConsentChange.seq))) or 0
                self._floor = recent - 1 if recent is not None else newest
            self._thread = threading.Thread(
                target=self._follow, name="troth-decision-cache", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if event.contains(self._sessions, "after_commit", self._after_commit):
            event.remove(self._sessions, "after_commit", self._after_commit)
            event.remove(self._sessions, "after_transaction_end", self._after_transaction_end)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.poll()
            except SQLAlchemyError as exc:
                log.warning(
                    "decision cache: cannot read the change feed (%s); answering from the "
                    "database until it can",
                    type(exc).__name__,
                )
                self.clear()

    def poll(self) -> int:
        """Read the change feed once; returns how many changes were new."""
        with self._sessions() as session:
            # The look-back re-reads rows already seen on every poll: their numbers are enough
            # to tell, and only new rows' subject lists are read.
            seqs = session.scalars(
                select(ConsentChange.seq).where(ConsentChange.seq > self._floor)
            ).all()
            fresh = [seq for seq in seqs if seq not in self._seen]
            if fresh:
                changed: list[str | None] = []
                for start in range(0, len(fresh), 500):
                    for subject_ids in session.scalars(
                        select(ConsentChange.subject_ids).where(
                            ConsentChange.seq.in_(fresh[start : start + 500])
                        )
                    ):
                        changed.extend([None] if subject_ids is None else subject_ids)
                self.invalidate(changed)
                self._seen.update(fresh)
            self._advance_floor(max(seqs, default=self._floor))
        self._prune_feed()
        self.polls += 1
        return len(fresh)

    def _advance_floor(self, highest: int) -> None:
        now = time.monotonic()
        self._marks.append((now, highest))
        while self._marks and self._marks[0][0] < now - LOOK_BACK_SECONDS:
            _, floor = self._marks.popleft()
            if floor > self._floor:
                self._floor = floor
                self._seen = {seq for seq in self._seen if seq > floor}

    def _prune_feed(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        try:
            # Looked for first without the write lock: an idle server must not make the other
            # writers on SQLite wait (or a transaction that has already read fail) for nothing.
            with self._sessions() as session:
                newest = session.scalar(select(func.max(ConsentChange.seq)))
                cutoff = self._clock() - KEEP_FEED
                stale = None
                if newest is not None:
                    stale = session.scalar(
                        select(ConsentChange.seq)
                        .where(ConsentChange.changed_at < cutoff, ConsentChange.seq < newest)
                        .limit(1)
                    )
            if stale is None:
                return
            with write_scope(self._sessions) as session:
                # The newest row stays, so that SQLite never hands out a sequence number again.
                session.execute(
                    delete(ConsentChange).where(
                        ConsentChange.changed_at < cutoff, ConsentChange.seq < newest
                    )
                )
        except SQLAlchemyError as exc:
            # Pruning is housekeeping: a busy database only postpones it.
            log.info("decision cache: pruning the change feed postponed (%s)", type(exc).__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)
