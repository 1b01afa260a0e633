"""KeyCache: keys authenticated from memory, each row re-read once it is older than the ttl."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from apikey_support import CREATED, OPERATOR, MovingClock, make_key
from sqlalchemy import Engine, event

from troth.apikeys import NOT_CACHED, KeyCache, revoke_key
from troth.store import make_engine, make_sessionmaker, upgrade

TTL = timedelta(seconds=5)


class QueryCount:
    """How many statements the engine has run."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.count += 1


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock(CREATED + timedelta(minutes=1))


@pytest.fixture
def cache(engine: Engine, clock: MovingClock) -> KeyCache:
    return KeyCache(make_sessionmaker(engine), clock=clock, ttl=TTL)


def revoke(engine: Engine, key_id: str) -> None:
    with make_sessionmaker(engine).begin() as session:
        revoke_key(session, key_id, now=CREATED + timedelta(minutes=2), actor=OPERATOR)


def test_a_key_is_read_once_then_answered_from_memory(engine: Engine, cache: KeyCache) -> None:
    key, text = make_key(engine, ["decide", "consent:read"], name="shop")
    queries = QueryCount(engine)
    assert cache.from_memory(text) is NOT_CACHED
    found = cache.authenticate(text)
    assert found is not None
    assert (found.id, found.name, found.scopes) == (key.id, "shop", {"decide", "consent:read"})
    assert found.allows("decide") and not found.allows("consent:write")
    assert found.actor.id == key.id and found.actor.kind == "api_key"
    read = queries.count
    assert read >= 1
    for _ in range(100):
        assert cache.authenticate(text) == found
        assert cache.from_memory(text) == found
    assert queries.count == read


def test_a_wrong_secret_for_a_cached_key_is_refused_without_a_query(
    engine: Engine, cache: KeyCache
) -> None:
    _, text = make_key(engine, ["decide"])
    assert cache.authenticate(text) is not None
    queries = QueryCount(engine)
    wrong = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
    assert cache.authenticate(wrong) is None
    assert cache.from_memory(wrong) is None
    assert queries.count == 0


def test_a_malformed_key_is_refused_without_a_query(engine: Engine, cache: KeyCache) -> None:
    queries = QueryCount(engine)
    for malformed in ("", "Bearer", "troth_", "troth_abc_def", "x" * 10_000):
        assert cache.from_memory(malformed) is None
        assert cache.authenticate(malformed) is None
    assert queries.count == 0


def test_a_revocation_elsewhere_takes_effect_within_the_ttl(
    engine: Engine, cache: KeyCache, clock: MovingClock
) -> None:
    key, text = make_key(engine, ["decide"])
    assert cache.authenticate(text) is not None
    revoke(engine, key.id)  # as `troth apikey revoke` in another process would
    clock.advance(TTL.total_seconds() - 0.001)
    assert cache.authenticate(text) is not None  # the documented window
    clock.advance(0.001)
    assert cache.from_memory(text) is NOT_CACHED
    assert cache.authenticate(text) is None
    assert cache.from_memory(text) is None


def test_forget_makes_a_revocation_in_this_process_take_effect_at_once(
    engine: Engine, cache: KeyCache
) -> None:
    key, text = make_key(engine, ["decide"])
    assert cache.authenticate(text) is not None
    revoke(engine, key.id)
    cache.forget(key.id)
    assert cache.authenticate(text) is None


def test_an_unknown_id_is_remembered_for_the_ttl_too(
    engine: Engine, cache: KeyCache, clock: MovingClock
) -> None:
    _, text = make_key(engine, ["decide"])
    unknown = "troth_" + "a" * 12 + text[18:]
    assert cache.authenticate(unknown) is None
    queries = QueryCount(engine)
    assert cache.authenticate(unknown) is None
    assert queries.count == 0
    clock.advance(TTL.total_seconds())
    assert cache.authenticate(unknown) is None
    assert queries.count >= 1


def test_a_clock_that_goes_back_makes_entries_stale(
    engine: Engine, cache: KeyCache, clock: MovingClock
) -> None:
    key, text = make_key(engine, ["decide"])
    assert cache.authenticate(text) is not None
    revoke(engine, key.id)
    clock.advance(-3600)
    assert cache.from_memory(text) is NOT_CACHED
    assert cache.authenticate(text) is None


def test_a_ttl_of_zero_reads_the_row_every_time(engine: Engine, clock: MovingClock) -> None:
    cache = KeyCache(make_sessionmaker(engine), clock=clock, ttl=timedelta(0))
    key, text = make_key(engine, ["decide"])
    assert cache.authenticate(text) is not None
    assert cache.from_memory(text) is NOT_CACHED
    revoke(engine, key.id)
    assert cache.authenticate(text) is None


def test_the_cache_holds_at_most_max_entries(engine: Engine, clock: MovingClock) -> None:
    cache = KeyCache(make_sessionmaker(engine), clock=clock, ttl=TTL, max_entries=4)
    texts = [make_key(engine, ["decide"])[1] for _ in range(6)]
    for text in texts:
        assert cache.authenticate(text) is not None
    assert len(cache._entries) <= 4
    assert cache.from_memory(texts[-1]) is not NOT_CACHED  # the newest stay
    assert cache.from_memory(texts[0]) is NOT_CACHED  # the oldest went
    assert all(cache.authenticate(text) is not None for text in texts)


@pytest.mark.parametrize(("ttl", "size"), [(timedelta(seconds=-1), 10), (TTL, 0)])
def test_nonsense_settings_are_refused(engine: Engine, ttl: timedelta, size: int) -> None:
    with pytest.raises(ValueError):
        KeyCache(make_sessionmaker(engine), clock=MovingClock(), ttl=ttl, max_entries=size)
