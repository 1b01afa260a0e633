"""Authenticate API keys from memory, re-reading each key's row at most every few seconds.

The decision endpoint is a hot path: a database round-trip per request to check the caller's key
would cost more than the decision itself. :class:`KeyCache` keeps, per key id, what the
``api_keys`` row said (the secret's hash, the scopes, whether it is revoked), and checks each
presented secret against it with a constant-time comparison.

The bound: a row is re-read once it is ``ttl`` old (5 seconds by default), so a key revoked by
any process (``troth apikey revoke``, another server) is refused by every server within ``ttl``
of the revocation's commit. A revocation in this process can take effect at once through
:meth:`KeyCache.forget`. The same bound applies to a key id presented before the key existed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Final, Literal, TypeAlias

from sqlalchemy.orm import Session

from .keys import AuthenticatedKey, parse_key, secret_matches
from .models import ApiKey

DEFAULT_TTL = timedelta(seconds=5)
DEFAULT_MAX_ENTRIES = 10_000


class NotCached(Enum):
    """What :meth:`KeyCache.from_memory` answers when only the database can tell."""

    NOT_CACHED = "not cached"


NOT_CACHED: Final = NotCached.NOT_CACHED
Cached: TypeAlias = AuthenticatedKey | Literal[NotCached.NOT_CACHED] | None


@dataclass(frozen=True)
class _Entry:
    loaded_at: datetime
    secret_hash: str | None  # None: no key has this id
    key: AuthenticatedKey | None  # None: unknown or revoked


class KeyCache:
    """Answers "which key is this?" from memory; see the module's docstring for the bound.

    ``sessions`` opens a session (a ``sessionmaker``); ``clock`` gives the current UTC time. A
    clock that goes backwards makes entries stale, never fresher. At most ``max_entries`` ids
    are remembered (unknown ids too, so that repeated guesses do not each cost a query); when
    full, the older half is dropped. Safe to share between threads.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        *,
        clock: Callable[[], datetime],
        ttl: timedelta = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if ttl < timedelta(0):
            raise ValueError("a key cache's ttl cannot be negative")
        if max_entries < 1:
            raise ValueError("a key cache must hold at least one entry")
        self.ttl = ttl
        self.max_entries = max_entries
        self._sessions = sessions
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def authenticate(self, presented: str) -> AuthenticatedKey | None:
        """The key ``presented`` is, reading its row if the cached one is missing or stale."""
        found = self.from_memory(presented)
        if found is not NOT_CACHED:
            return found
        parts = parse_key(presented)
        assert parts is not None  # from_memory answers None for a malformed key
        key_id, secret = parts
        entry = self._load(key_id)
        return _check(entry, secret)

    def from_memory(self, presented: str) -> Cached:
        """Like :meth:`authenticate`, but :data:`NOT_CACHED` where it would read the database.

        For async callers: answer at once when possible, and only otherwise move to a thread.
        """
        parts = parse_key(presented)
        if parts is None:
            return None
        key_id, secret = parts
        entry = self._entries.get(key_id)
        if entry is None or not self._fresh(entry):
            return NOT_CACHED
        return _check(entry, secret)

    def forget(self, key_id: str) -> None:
        """Re-read this key's row on its next use (after revoking it in this process)."""
        with self._lock:
            self._entries.pop(key_id, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _fresh(self, entry: _Entry) -> bool:
        now = self._clock()
        return entry.loaded_at <= now < entry.loaded_at + self.ttl

    def _load(self, key_id: str) -> _Entry:
        loaded_at = self._clock()
        with self._sessions() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                entry = _Entry(loaded_at, None, None)
            else:
                key = None if row.revoked_at is not None else AuthenticatedKey.from_row(row)
                entry = _Entry(loaded_at, row.secret_hash, key)
        with self._lock:
            if len(self._entries) >= self.max_entries and key_id not in self._entries:
                for stale in list(self._entries)[: max(1, len(self._entries) // 2)]:
                    del self._entries[stale]
            # Re-inserted at the end, so the dict's order stays oldest-loaded first.
            self._entries.pop(key_id, None)
            self._entries[key_id] = entry
        return entry


def _check(entry: _Entry, secret: str) -> AuthenticatedKey | None:
    return entry.key if secret_matches(secret, entry.secret_hash) else None
