"""What the API key tests share: a clock the test moves, keys made in one call, stored text."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, MetaData, select

from troth.apikeys import ApiKey, create_key
from troth.audit import Actor
from troth.store import make_sessionmaker

CREATED = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
OPERATOR = Actor.system("test.operator")


class MovingClock:
    """A clock that stands still until the test moves it."""

    def __init__(self, now: datetime = CREATED) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_key(
    engine: Engine, scopes: Iterable[str], *, name: str = "test key", now: datetime = CREATED
) -> tuple[ApiKey, str]:
    """A new key, committed: its row and the full key text."""
    with make_sessionmaker(engine).begin() as session:
        return create_key(session, name=name, scopes=scopes, now=now, actor=OPERATOR)


def database_text(engine: Engine) -> str:
    """Every value in every table, as one string: to search for what must never be stored."""
    metadata = MetaData()
    metadata.reflect(engine)
    values: list[str] = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                values.extend(repr(value) for value in row)
    return "\n".join(values)
