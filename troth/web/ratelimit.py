"""Rate limits per client address: a token bucket each, kept in memory by each process.

A bucket holds up to ``burst`` tokens and gains ``rate`` tokens a second; each request takes one.
A client whose bucket is empty is told how long to wait. Limits are per process: with several
workers, each counts on its own, so the effective limit is that many times higher.

Memory is bounded: a bucket that has been idle long enough to refill completely is the same as a
new one and is dropped, and beyond ``max_clients`` the least recently seen bucket is dropped.

Client addresses are personal data: they are used as keys in memory only, never logged.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from fastapi import HTTPException, Request

__all__ = ["RateLimit", "TokenBuckets"]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets keyed by client, safe to use from several threads."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate must be positive, burst and max_clients at least 1")
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._refill_time = burst / rate  # an idle bucket is full again after this long
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently seen first
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0 if there was one, else the seconds until there is."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.pop(key, None)
            self._evict(now)  # leaves room for this key's bucket
            if bucket is None:
                bucket = _Bucket(tokens=float(self.burst), updated=now)
            else:
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
                bucket.updated = now
            self._buckets[key] = bucket  # now the most recently seen
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def _evict(self, now: float) -> None:
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            idle = now - oldest.updated >= self._refill_time
            if not idle and len(self._buckets) < self.max_clients:
                return
            del self._buckets[key]


def client_key(request: Request) -> str:
    """The client's address as the server sees it (behind a proxy: as the proxy reports it)."""
    return request.client.host if request.client else "unknown"


class RateLimit:
    """A FastAPI dependency refusing a client that goes over the limit with 429 and Retry-After.

    Each application gets its own buckets, so two apps in one process (tests) never share counts.
    ``headers`` are added to the refusal (e.g. CORS headers, so that a script can read it).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        TokenBuckets(rate, burst, max_clients=max_clients)  # check the settings now
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.headers = dict(headers or {})
        self._clock = clock
        self._per_app: WeakKeyDictionary[Any, TokenBuckets] = WeakKeyDictionary()
        self._lock = threading.Lock()

    def buckets(self, app: Any) -> TokenBuckets:
        with self._lock:
            found = self._per_app.get(app)
            if found is None:
                found = TokenBuckets(
                    self.rate, self.burst, max_clients=self.max_clients, clock=self._clock
                )
                self._per_app[app] = found
            return found

    def __call__(self, request: Request) -> None:
        wait = self.buckets(request.app).take(client_key(request))
        if wait > 0:
            raise HTTPException(
                status_code=429,
                detail="Too many requests from this address; try again later.",
                headers={"Retry-After": str(max(1, math.ceil(wait))), **self.headers},
            )
