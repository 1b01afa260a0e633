"""``troth.collect``: storing a submission in-process, with the master key ``connect`` loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_support import CONTACT_FORM, EMAIL

import troth
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import ENV_VAR, Keyring, create_key_file
from troth.vault import CollectionRefused, VaultItem, items_of

KESTREL = "examples/kestrel/privacy.yaml"
PAIRS = [(f["category"], f["value"]) for f in CONTACT_FORM]


@pytest.fixture(autouse=True)
def _disconnected(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV_VAR, raising=False)
    troth.disconnect()
    yield
    troth.disconnect()


@pytest.fixture
def database(sqlite_url: str) -> str:
    upgrade(sqlite_url)
    return sqlite_url


def test_collect_stores_with_the_key_from_a_key_file(database: str, tmp_path: Path) -> None:
    key = create_key_file(tmp_path / "master.key")
    troth.connect(KESTREL, database, key_file=tmp_path / "master.key")
    result = troth.collect(
        ("email", EMAIL), PAIRS, source="contact_form", purpose="answer_inquiries"
    )
    assert result.subject_created and len(result.stored) == len(PAIRS)
    engine = make_engine(database)
    with make_sessionmaker(engine)() as session:
        values = [(i.category, i.value) for i in items_of(session, Keyring(key), result.subject_id)]
    engine.dispose()
    assert values == PAIRS


def test_collect_reads_the_key_from_the_environment(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_key_file(tmp_path / "master.key")
    monkeypatch.setenv(ENV_VAR, (tmp_path / "master.key").read_text().strip())
    troth.connect(KESTREL, database)
    result = troth.collect(
        {"kind": "email", "value": EMAIL},
        [{"category": "user.name", "value": "Priya"}],
        source="contact_form",
        purpose="answer_inquiries",
        collection_point="newsletter sign-up box",
    )
    assert result.stored[0].waiting_for == "last_activity"


def test_a_refused_submission_stores_nothing(database: str, tmp_path: Path) -> None:
    create_key_file(tmp_path / "master.key")
    troth.connect(KESTREL, database, key_file=tmp_path / "master.key")
    with pytest.raises(CollectionRefused) as caught:
        troth.collect(
            ("email", EMAIL),
            [*PAIRS, ("user.job_title", "CTO")],
            source="contact_form",
            purpose="answer_inquiries",
        )
    assert caught.value.fields == [
        ("fields[5].category", "is not a category the source contact_form collects")
    ]
    engine = make_engine(database)
    with make_sessionmaker(engine)() as session:
        assert session.query(VaultItem).count() == 0
    engine.dispose()


def test_collect_without_a_key_or_a_connection_says_what_to_do(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError, match=r"troth\.connect"):
        troth.collect(("email", EMAIL), PAIRS, source="contact_form", purpose="answer_inquiries")
    monkeypatch.chdir(tmp_path)  # no var/master.key here
    troth.connect(Path(__file__).parent.parent / KESTREL, database)
    with pytest.raises(RuntimeError, match="master key"):
        troth.collect(("email", EMAIL), PAIRS, source="contact_form", purpose="answer_inquiries")
    with pytest.raises(Exception, match="no such key file"):
        troth.connect(Path(__file__).parent.parent / KESTREL, database, key_file="missing.key")


def test_a_childs_submission_in_process_is_held_with_a_link_to_the_site(
    database: str, tmp_path: Path
) -> None:
    create_key_file(tmp_path / "master.key")
    troth.connect(KESTREL, database, key_file=tmp_path / "master.key")
    child = [("user.name", "Aarav"), ("user.demographic.date_of_birth", "2020-01-01")]
    options = {"source": "client_apps", "purpose": "operate_client_apps"}
    with pytest.raises(CollectionRefused) as caught:
        troth.collect(("external_id", "app-user-1"), child, parent_email="p@example.in", **options)
    assert [field for field, _ in caught.value.fields] == ["base_url"]
    result = troth.collect(
        ("external_id", "app-user-1"),
        child,
        parent_email="p@example.in",
        base_url="https://kestrel.example",
        **options,
    )
    assert result.held and result.held_until is not None
