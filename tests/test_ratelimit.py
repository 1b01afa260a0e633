"""Token buckets per client address, and the 429 dependency built on them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from troth.web.ratelimit import RateLimit, TokenBuckets


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_burst_is_allowed_then_the_client_waits(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token at 2 a second
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)


def test_clients_have_their_own_buckets(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_refill_never_exceeds_the_burst(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=1.0, burst=2, max_clients=10, clock=clock)
    buckets.take("a")
    clock.now += 1_000_000
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") > 0


def test_idle_clients_are_forgotten(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=1.0, burst=5, clock=clock)
    for key in ("a", "b", "c"):
        buckets.take(key)
    assert len(buckets) == 3
    clock.now += 5  # long enough for each bucket to be full again
    buckets.take("d")
    assert len(buckets) == 1


def test_memory_is_bounded_by_dropping_the_least_recently_seen(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_clients=2, clock=clock)
    buckets.take("a")
    buckets.take("b")
    assert buckets.take("a") > 0  # "a" is now the most recently seen
    buckets.take("c")  # drops "b"
    assert len(buckets) == 2
    assert buckets.take("b") == 0.0  # a fresh bucket: "b" was forgotten
    assert buckets.take("c") > 0  # "c" was kept


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBuckets(rate=0, burst=1)
    with pytest.raises(ValueError):
        RateLimit(rate=1, burst=0)


def test_concurrent_takes_never_hand_out_more_than_the_burst(clock: FakeClock) -> None:
    buckets = TokenBuckets(rate=0.001, burst=50, clock=clock)
    granted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(20):
            ok = buckets.take("shared") == 0.0
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 160
    assert sum(granted) == 50


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[TestClient]:
    limit = RateLimit(rate=0.5, burst=2, headers={"X-Extra": "yes"}, clock=clock)
    app = FastAPI()

    @app.get("/limited", dependencies=[Depends(limit)])
    def limited_route() -> dict[str, str]:
        return {"ok": "yes"}

    with TestClient(app) as client:
        yield client


def test_the_dependency_answers_429_with_retry_after(limited: TestClient, clock: FakeClock) -> None:
    assert [limited.get("/limited").status_code for _ in range(2)] == [200, 200]
    refused = limited.get("/limited")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"  # one token at 0.5 a second
    assert refused.headers["x-extra"] == "yes"
    clock.now += 2
    assert limited.get("/limited").status_code == 200


def test_each_app_counts_on_its_own(clock: FakeClock) -> None:
    limit = RateLimit(rate=0.5, burst=1, clock=clock)
    clients = []
    for _ in range(2):
        app = FastAPI()
        app.get("/limited", dependencies=[Depends(limit)])(lambda: {"ok": "yes"})
        clients.append(TestClient(app))
    assert [c.get("/limited").status_code for c in clients] == [200, 200]
    assert clients[0].get("/limited").status_code == 429
