"""Personal data at rest (P26, P3): no collected value in the database's bytes on SQLite or in
a pg_dump on PostgreSQL, forbidden data nowhere at all, and crypto-shredding that leaves an
earlier copy of the database unreadable."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events
from fastapi.testclient import TestClient
from pg_support import postgres_schema
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from support import dump, item, kestrel_data, read
from typer.testing import CliRunner
from vault_support import CARD, CARD_DASHED, CONTACT_FORM, EMAIL, NAME, PHONE, submit

from troth.cli import app as cli
from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring, MasterKey, TamperedError, UnknownMasterKey, decrypt
from troth.subjects.models import Subject
from troth.subjects.registry import ShreddedSubject, data_key, find_subject
from troth.subjects.rotation import rotate_keys
from troth.vault import VaultItem, items_of, shred_subject
from troth.vault.collect import item_associated_data
from troth.web import create_app

# The email, phone and name collected, as typed and as troth normalises them.
KNOWN = (EMAIL, PHONE, "+919822011234", "9822011234", NAME)
CARDS = (CARD, CARD_DASHED, CARD.replace(" ", ""), CARD_DASHED.replace("-", ""))


def spellings(values: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """Each value as bytes in UTF-8, UTF-16 (both orders) and hex, as written and lower-case."""
    for value in values:
        for text in {value, value.lower()}:
            yield f"{text!r} utf-8", text.encode("utf-8")
            yield f"{text!r} utf-16-le", text.encode("utf-16-le")
            yield f"{text!r} utf-16-be", text.encode("utf-16-be")
            yield f"{text!r} hex", text.encode("utf-8").hex().encode("ascii")


def assert_absent(raw: bytes, values: Iterable[str], where: str) -> None:
    lowered = raw.lower()
    for name, needle in spellings(values):
        assert needle not in raw and needle.lower() not in lowered, f"{name} found in {where}"


def database_bytes(path: Path) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def collect_known(engine: Engine, policy: Policy, keyring: Keyring) -> str:
    with make_sessionmaker(engine).begin() as session:
        subject_id = submit(session, policy, keyring).subject_id
        submit(
            session,
            policy,
            keyring,
            [{"category": "user.contact.phone_number", "value": PHONE}],
            identity=("phone", PHONE),
        )
    with make_sessionmaker(engine)() as session:
        assert [i.value for i in items_of(session, keyring, subject_id)] == [
            f["value"] for f in CONTACT_FORM
        ]
    return subject_id


def test_the_sqlite_file_holds_no_collected_value(
    tmp_path: Path, kestrel_policy: Policy, keyring: Keyring
) -> None:
    path = tmp_path / "troth.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    collect_known(engine, kestrel_policy, keyring)
    raw = database_bytes(path)
    engine.dispose()  # checkpoints the log into the file
    assert b"vault_items" in raw and len(raw) > 10_000
    assert_absent(raw, KNOWN, "the SQLite database")
    assert_absent(database_bytes(path), KNOWN, "the SQLite database after a checkpoint")


def pg_dump(url: str, out: Path) -> bytes:
    """The plain-SQL dump of the test's schema, or skip (fail on CI) without pg_dump."""
    program = shutil.which("pg_dump")
    if program is None:
        reason = "pg_dump is not installed (apt-get install postgresql-client)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    parsed = make_url(url)
    schema = parsed.query["options"].removeprefix("-csearch_path=")  # type: ignore[union-attr]
    libpq = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    subprocess.run(
        [program, "--no-owner", f"--schema={schema}", f"--file={out}", libpq], check=True
    )
    return out.read_bytes()


@pytest.mark.postgres
def test_a_postgres_dump_holds_no_collected_value(
    postgres_url: str, tmp_path: Path, kestrel_policy: Policy, keyring: Keyring
) -> None:
    with postgres_schema(postgres_url, "troth_dump") as url:
        engine = make_engine(url)
        upgrade(engine)
        collect_known(engine, kestrel_policy, keyring)
        engine.dispose()
        raw = pg_dump(url, tmp_path / "dump.sql")
    assert b"COPY" in raw and b"vault_items" in raw
    assert_absent(raw, KNOWN, "the pg_dump")


def strip_cards_policy() -> Policy:
    data = kestrel_data()
    item(data, "categories", "user.financial.credit_card")["on_forbidden"] = "strip"
    policy, problems = read(dump(data))
    assert policy is not None, problems
    return policy


@pytest.mark.parametrize("on_forbidden", ["reject", "strip"])
def test_a_card_number_reaches_no_database_log_error_or_audit_trail(
    tmp_path: Path,
    kestrel_policy: Policy,
    caplog: pytest.LogCaptureFixture,
    on_forbidden: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    policy = kestrel_policy if on_forbidden == "reject" else strip_cards_policy()
    path = tmp_path / "troth.db"
    url = f"sqlite:///{path}"
    application = create_app(policy, url, keyring=Keyring(MasterKey.generate()))
    fields = [
        {"category": "user.name", "value": NAME},
        {"category": "user.content.private", "value": f"my card is {CARD}, cvv 123"},
        {"category": "user.financial.credit_card", "value": CARD_DASHED},
    ]
    body = {
        "identity": {"kind": "email", "value": EMAIL},
        "fields": fields,
        "source": "contact_form",
        "purpose": "answer_inquiries",
    }
    from apikey_support import make_key

    with TestClient(application) as client:
        _, key = make_key(application.state.site.engine, ["vault:write"])
        response = client.post(
            "/api/v1/collect", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    if on_forbidden == "reject":
        assert response.status_code == 422, response.text
        named = [f["field"] for f in response.json()["error"]["fields"]]
        assert named == ["fields[1].value", "fields[2].category"]
    else:
        assert response.status_code == 201, response.text
        assert response.json()["stripped"] == [
            {"field": "fields[1]", "category": "user.content.private", "reason": "card_number"},
            {
                "field": "fields[2]",
                "category": "user.financial.credit_card",
                "reason": "forbidden_category",
            },
        ]
        assert [s["field"] for s in response.json()["stored"]] == ["fields[0]"]
    assert_absent(response.content, CARDS, "the answer")
    logged = "\n".join(f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records).encode()
    assert caplog.records, "nothing was logged, so the log check would prove nothing"
    assert_absent(logged, CARDS, "the log")
    exported = CliRunner().invoke(cli, ["audit", "export", "--db", url])
    assert exported.exit_code == 0, exported.output
    assert "vault.collected" in exported.output or on_forbidden == "reject"
    assert_absent(exported.output.encode(), CARDS, "troth audit export")
    assert_absent(database_bytes(path), CARDS, "the database")


def test_shredding_leaves_an_earlier_copy_of_the_database_unreadable(
    tmp_path: Path, kestrel_policy: Policy
) -> None:
    old_master = MasterKey.generate()
    keyring = Keyring(old_master)
    path = tmp_path / "live" / "troth.db"
    path.parent.mkdir()
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    subject_id = collect_known(engine, kestrel_policy, keyring)
    engine.dispose()
    backup = tmp_path / "backup.db"
    shutil.copyfile(path, backup)  # the nightly backup, taken before the erasure

    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        shredded = shred_subject(session, subject_id, now=NOW, actor=STAFF)
    assert shredded.keys_destroyed == 1 and shredded.items_unreadable == len(CONTACT_FORM)
    with sessions() as session:
        assert session.get(Subject, subject_id).wrapped_key is None  # type: ignore[union-attr]
        with pytest.raises(ShreddedSubject):
            items_of(session, keyring, subject_id)
        assert find_subject(session, keyring, "email", EMAIL) is None
        [event] = audit_events(session, "subject.shredded")
        assert event.details == {
            "keys_destroyed": 1,
            "identities_removed": 1,
            "items_unreadable": 5,
        }
        assert_audit_chain_clean(session, KNOWN)
        other_keys = [
            data_key(keyring, s)
            for s in session.scalars(select(Subject).where(Subject.wrapped_key.is_not(None)))
        ]
    assert other_keys, "the other subject's key should remain"

    copy = make_engine(f"sqlite:///{backup}")
    with Session(copy) as session:
        items = session.scalars(select(VaultItem).where(VaultItem.subject_id == subject_id))
        ciphertexts = [
            (
                row.ciphertext,
                item_associated_data(row.subject_id, row.submission_id, row.position, row.category),
            )
            for row in items
        ]
        wrapped = session.get(Subject, subject_id).wrapped_key  # type: ignore[union-attr]
    assert len(ciphertexts) == len(CONTACT_FORM) and wrapped is not None
    # No key the live system still holds opens the copy's ciphertext.
    for blob, associated in ciphertexts:
        for key in other_keys:
            with pytest.raises(TamperedError):
                decrypt(key, blob, associated)
    # The copy still carries the wrapped key; once the master key is rotated and the old one
    # retired, that is unreadable too, and so is every value in the copy.
    new_master = MasterKey.generate()
    rotate_keys(sessions, Keyring(new_master, [old_master]), clock=lambda: NOW, actor=STAFF)
    with pytest.raises(UnknownMasterKey):
        Keyring(new_master).unwrap(wrapped)
    with Session(engine) as session:
        assert items_of(session, Keyring(new_master), other_subject(session, subject_id))
    copy.dispose()
    engine.dispose()
    assert_absent(backup.read_bytes(), KNOWN, "the backup")


def other_subject(session: Session, shredded: str) -> str:
    subject_id = session.scalar(select(Subject.id).where(Subject.id != shredded))
    assert subject_id is not None
    return subject_id


def test_shredding_twice_destroys_nothing_more(
    ledger_engine: Engine, kestrel_policy: Policy, keyring: Keyring
) -> None:
    sessions = make_sessionmaker(ledger_engine)
    with sessions.begin() as session:
        subject_id = submit(session, kestrel_policy, keyring).subject_id
    with sessions.begin() as session:
        first = shred_subject(session, subject_id, now=NOW, actor=STAFF)
    with sessions.begin() as session:
        second = shred_subject(session, subject_id, now=NOW, actor=STAFF)
    assert (first.keys_destroyed, second.keys_destroyed) == (1, 0)
    assert (first.identities_removed, second.identities_removed) == (1, 0)
    with sessions.begin() as session:
        again = submit(session, kestrel_policy, keyring)
    assert again.subject_created and again.subject_id != subject_id


def test_a_value_moved_to_another_row_does_not_decrypt(
    ledger_engine: Engine, kestrel_policy: Policy, keyring: Keyring
) -> None:
    sessions = make_sessionmaker(ledger_engine)
    with sessions.begin() as session:
        subject_id = submit(session, kestrel_policy, keyring).subject_id
    with sessions.begin() as session:
        rows = session.scalars(select(VaultItem).order_by(VaultItem.position)).all()
        rows[0].ciphertext, rows[1].ciphertext = rows[1].ciphertext, rows[0].ciphertext
    with sessions() as session, pytest.raises(TamperedError):
        items_of(session, keyring, subject_id)


def test_the_audit_trail_of_a_collection_holds_no_value(
    ledger_engine: Engine, kestrel_policy: Policy, keyring: Keyring
) -> None:
    sessions = make_sessionmaker(ledger_engine)
    with sessions.begin() as session:
        submit(session, kestrel_policy, keyring)
    with sessions() as session:
        events = assert_audit_chain_clean(session, KNOWN)
    details = [e.details for e in events if e.action == "vault.collected"]
    assert json.loads(json.dumps(details))[0]["source"] == "contact_form"
