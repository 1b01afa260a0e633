"""Rotating the master key: every data key re-wrapped and identity re-indexed, batch by batch,
resumable, while a server holding both keys keeps collecting and reading."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from consent_support import NOW, STAFF, audit_events, new_email
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner
from vault_support import CONTACT_FORM, submit

from troth.cli import app as cli
from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import (
    ENV_VAR,
    Keyring,
    MasterKey,
    UnknownMasterKey,
    create_key_file,
    wrapped_key_id,
)
from troth.subjects.models import Identity, Subject
from troth.subjects.registry import find_subject
from troth.subjects.rotation import rotate_batch, rotate_keys, subjects_under_other_keys
from troth.vault import items_of

SECRET_OLD = os.urandom(32)
SECRET_NEW = os.urandom(32)


def populate(
    sessions: sessionmaker[Session], policy: Policy, keyring: Keyring, count: int
) -> list[str]:
    emails = [new_email() for _ in range(count)]
    with sessions.begin() as session:
        for email in emails:
            submit(session, policy, keyring, CONTACT_FORM[:2], identity=("email", email))
    return emails


def test_rotation_moves_every_subject_under_the_new_key(
    ledger_engine: Engine, kestrel_policy: Policy
) -> None:
    old, new = MasterKey(SECRET_OLD), MasterKey(SECRET_NEW)
    sessions = make_sessionmaker(ledger_engine)
    emails = populate(sessions, kestrel_policy, Keyring(old), 5)
    both = Keyring(new, [old])
    result = rotate_keys(sessions, both, clock=lambda: NOW, actor=STAFF, batch_size=2)
    assert (result.batches, result.subjects_seen, result.keys_rewrapped) == (3, 5, 5)
    assert result.identities_reindexed == 5
    only_new = Keyring(new)
    with sessions() as session:
        assert subjects_under_other_keys(session, only_new) == 0
        for blob in session.scalars(select(Subject.wrapped_key)):
            assert blob is not None and wrapped_key_id(blob) == new.key_id
        for email in emails:
            subject = find_subject(session, only_new, "email", email)
            assert subject is not None
            assert [i.value for i in items_of(session, only_new, subject.id)] == [
                f["value"] for f in CONTACT_FORM[:2]
            ]
        assert find_subject(session, Keyring(old), "email", emails[0]) is None
        events = audit_events(session, "subjects.keys_rotated")
    assert [e.details["keys_rewrapped"] for e in events] == [2, 2, 1]
    assert {e.details["master_key_id"] for e in events} == {new.key_id}
    trail = repr([e.details for e in events])
    for secret in (SECRET_OLD, SECRET_NEW):
        assert base64.b64encode(secret).decode() not in trail
        assert secret.hex() not in trail


def test_a_rotation_cut_short_is_finished_by_running_it_again(
    ledger_engine: Engine, kestrel_policy: Policy
) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    sessions = make_sessionmaker(ledger_engine)
    populate(sessions, kestrel_policy, Keyring(old), 5)
    both = Keyring(new, [old])

    def crash(_result: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_keys(sessions, both, clock=lambda: NOW, actor=STAFF, batch_size=2, on_batch=crash)
    with sessions() as session:
        assert subjects_under_other_keys(session, both) == 3  # the first batch was kept
    # Meanwhile a server with both keys loaded keeps working: it reads an old-key subject,
    # collects for it, and creates a new subject under the new key.
    with sessions.begin() as session:
        for subject in session.scalars(select(Subject)).all():
            assert len(items_of(session, both, subject.id)) >= 2
        submit(session, kestrel_policy, both, CONTACT_FORM[:1], identity=("email", new_email()))
    result = rotate_keys(sessions, both, clock=lambda: NOW, actor=STAFF, batch_size=2)
    assert result.keys_rewrapped == 3
    again = rotate_keys(sessions, both, clock=lambda: NOW, actor=STAFF, batch_size=2)
    assert (again.keys_rewrapped, again.identities_reindexed, again.subjects_seen) == (0, 0, 6)
    with sessions() as session:
        assert subjects_under_other_keys(session, Keyring(new)) == 0
        events = audit_events(session, "subjects.keys_rotated")
    # One event per batch that changed something: 2 keys before the crash, 3 after.
    assert sum(e.details["keys_rewrapped"] for e in events) == 5


def test_a_merged_identity_is_reindexed_even_if_its_subject_was_rotated(
    ledger_engine: Engine, kestrel_policy: Policy
) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    sessions = make_sessionmaker(ledger_engine)
    [email] = populate(sessions, kestrel_policy, Keyring(old), 1)
    both = Keyring(new, [old])
    with sessions.begin() as session:
        rotate_batch(session, both, after=None, limit=10, now=NOW, actor=STAFF)
        # An identity indexed under the old key lands on the rotated subject: a server that
        # still had the old key current (and the new one loaded as previous) linked it.
        subject = session.scalars(select(Subject)).one()
        from troth.subjects.registry import add_identity

        add_identity(session, Keyring(old, [new]), subject, "phone", "+919822011234", NOW)
    with sessions.begin() as session:
        result = rotate_batch(session, both, after=None, limit=10, now=NOW, actor=STAFF)
    assert (result.keys_rewrapped, result.identities_reindexed) == (0, 1)
    with sessions() as session:
        assert find_subject(session, Keyring(new), "phone", "+919822011234") is not None
        assert find_subject(session, Keyring(new), "email", email) is not None
        assert len(session.scalars(select(Identity)).all()) == 2


def test_rotation_without_the_old_key_stops_and_says_which_key(
    ledger_engine: Engine, kestrel_policy: Policy
) -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    sessions = make_sessionmaker(ledger_engine)
    populate(sessions, kestrel_policy, Keyring(old), 1)
    with pytest.raises(UnknownMasterKey) as caught:
        rotate_keys(sessions, Keyring(new), clock=lambda: NOW, actor=STAFF)
    assert caught.value.key_id == old.key_id


def test_the_rotate_command(
    tmp_path: Path, kestrel_policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    old_file, new_file = tmp_path / "old.key", tmp_path / "new.key"
    old, new = create_key_file(old_file), create_key_file(new_file)
    url = f"sqlite:///{tmp_path / 'troth.db'}"
    engine = make_engine(url)
    upgrade(engine)
    populate(make_sessionmaker(engine), kestrel_policy, Keyring(old), 3)
    runner = CliRunner()
    missing = runner.invoke(cli, ["keys", "rotate", "--db", url, "--key-file", str(new_file)])
    assert missing.exit_code == 1
    assert old.key_id in missing.output and "run again" in missing.output
    args = [
        "keys",
        "rotate",
        "--db",
        url,
        "--key-file",
        str(new_file),
        "--previous-key-file",
        str(old_file),
        "--batch-size",
        "2",
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "3 data keys re-wrapped and 3 identities re-indexed" in result.output
    assert new.key_id in result.output and "in 2 batches" in result.output
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "0 data keys re-wrapped" in again.output
    with make_sessionmaker(engine)() as session:
        assert subjects_under_other_keys(session, Keyring(new)) == 0
    engine.dispose()
