"""``troth.connect`` and ``troth.allows``: the decision in two calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import troth
from troth.audit import Actor
from troth.consent import ConsentInput, Reason, record_consents
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring, MasterKey
from troth.subjects.registry import create_subject

KESTREL = "examples/kestrel/privacy.yaml"


@pytest.fixture(autouse=True)
def _disconnected() -> Iterator[None]:
    troth.disconnect()
    yield
    troth.disconnect()


def test_allows_before_connect_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match=r"troth\.connect"):
        troth.allows("anyone", "newsletter")


def test_connect_then_allows_follows_the_ledger(sqlite_url: str, kestrel_policy) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        subject_id = create_subject(session, Keyring(MasterKey.generate()), now).id
    troth.connect(KESTREL, sqlite_url)

    before = troth.allows(subject_id, "newsletter")
    assert not before and before.reason is Reason.no_consent
    assert troth.allows(subject_id, "billing").reason is Reason.legal_basis

    with sessions.begin() as session:
        record_consents(
            session,
            kestrel_policy,
            [(subject_id, ConsentInput("newsletter", "given"))],
            actor=Actor.system("test"),
            now=now,
        )
    # Written through another engine: the connected cache learns of it from the change feed.
    deadline = datetime.now(UTC).timestamp() + 2
    while not troth.allows(subject_id, "newsletter"):
        assert datetime.now(UTC).timestamp() < deadline, "the write was not seen within 2 s"
        time.sleep(0.02)
    assert troth.allows(subject_id, "newsletter").reason is Reason.consent
    engine.dispose()
