"""The subject registry: one subject per identity, identities only encrypted, link and merge."""

from __future__ import annotations

from pathlib import Path

import pytest
from consent_support import NOW, STAFF, assert_audit_chain_clean, audit_events, count
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import IdentityError, IdentityKind, Keyring, MasterKey, UnknownMasterKey
from troth.subjects.models import Identity, Subject
from troth.subjects.registry import (
    IdentityValue,
    SubjectError,
    UnknownSubject,
    find_subject,
    get_subject,
    identities_of,
    link_identity,
    merged_ids,
    resolve_subject,
)

EMAIL = "ana.ruiz@example.com"
PHONE = "+91 98765 43210"
BROWSER = "b7Qd2kP9xW4mZ1vN8rT5yH3j"
OTHER_BROWSER = "Zx9c8V7b6N5m4L3k2J1h0G9f"


def resolve(session: Session, keyring: Keyring, kind: str, value: str) -> tuple[str, bool]:
    subject, created = resolve_subject(session, keyring, kind, value, now=NOW, actor=STAFF)
    return subject.id, created


def test_two_spellings_of_one_email_find_one_subject(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        first, created = resolve(session, keyring, "email", "  Ana.Ruiz@EXAMPLE.com\n")
        again, created_again = resolve(session, keyring, "email", EMAIL)
        other, _ = resolve(session, keyring, "email", "ana.ruiz@example.org")
    assert created is True
    assert created_again is False
    assert again == first
    assert other != first
    with Session(ledger_engine) as session:
        assert count(session, Subject) == 2
        assert count(session, Identity) == 2
        created_events = audit_events(session, "subject.created")
        assert [e.subject_id for e in created_events] == [first, other]
        assert created_events[0].details == {"identity_kind": "email"}


def test_an_identity_is_found_only_under_the_master_key_that_indexed_it(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        subject_id, _ = resolve(session, keyring, "email", EMAIL)
    with Session(ledger_engine) as session:
        found = find_subject(session, keyring, "email", "ANA.RUIZ@example.com")
        assert found is not None and found.id == subject_id
        assert find_subject(session, Keyring(MasterKey.generate()), "email", EMAIL) is None
        lookup = session.scalar(select(Identity.lookup))
        assert lookup == keyring.index(IdentityKind.email, EMAIL)
        assert EMAIL not in (lookup or "")


def test_the_database_file_holds_no_plaintext_identity(tmp_path: Path, keyring: Keyring) -> None:
    database = tmp_path / "registry.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade(engine)
    values = {"email": EMAIL, "phone": PHONE, "external_id": "crm-customer-48151623"}
    with make_sessionmaker(engine).begin() as session:
        subject_id, _ = resolve(session, keyring, "email", EMAIL)
        link_identity(session, keyring, subject_id, "phone", PHONE, now=NOW, actor=STAFF)
        link_identity(
            session, keyring, subject_id, "external_id", values["external_id"], now=NOW, actor=STAFF
        )
    engine.dispose()
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("registry.db*"))
    # The search works: the subject's opaque id, stored in the clear, is found.
    assert subject_id.encode() in raw
    for secret in [EMAIL, "ana.ruiz", "+919876543210", "9876543210", values["external_id"]]:
        assert secret.encode() not in raw, secret
        assert secret.encode("utf-16-le") not in raw, secret


def test_identities_of_decrypts_every_identity_in_canonical_form(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        subject_id, _ = resolve(session, keyring, "email", "Ana.Ruiz@Example.COM")
        link_identity(session, keyring, subject_id, "phone", PHONE, now=NOW, actor=STAFF)
    with Session(ledger_engine) as session:
        assert identities_of(session, keyring, subject_id) == [
            IdentityValue(IdentityKind.email, EMAIL),
            IdentityValue(IdentityKind.phone, "+919876543210"),
        ]
        # Another master key cannot unwrap the subject's data key.
        with pytest.raises(UnknownMasterKey):
            identities_of(session, Keyring(MasterKey.generate()), subject_id)


def test_linking_a_new_identity_attaches_it_without_a_merge(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        subject_id, _ = resolve(session, keyring, "email", EMAIL)
        subject, merged = link_identity(
            session, keyring, subject_id, "browser_id", BROWSER, now=NOW, actor=STAFF
        )
        assert (subject.id, merged) == (subject_id, [])
        # Linking an identity the subject already has changes nothing.
        again = link_identity(
            session, keyring, subject_id, "email", "ANA.RUIZ@example.com", now=NOW, actor=STAFF
        )
        assert (again[0].id, again[1]) == (subject_id, [])
    with Session(ledger_engine) as session:
        assert count(session, Subject) == 1
        assert count(session, Identity) == 2
        found = find_subject(session, keyring, "browser_id", BROWSER)
        assert found is not None and found.id == subject_id
        linked = audit_events(session, "subject.identity_linked")
        assert [(e.subject_id, e.details) for e in linked] == [
            (subject_id, {"identity_kind": "browser_id"})
        ]


def test_linking_an_identity_of_another_subject_merges_that_subject_in(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        known, _ = resolve(session, keyring, "email", EMAIL)
        browser, _ = resolve(session, keyring, "browser_id", BROWSER)
        link_identity(session, keyring, browser, "phone", PHONE, now=NOW, actor=STAFF)
    with Session(ledger_engine) as session:
        old_ciphertexts = dict(
            session.execute(
                select(Identity.kind, Identity.ciphertext).where(Identity.subject_id == browser)
            ).all()
        )

    with make_sessionmaker(ledger_engine).begin() as session:
        subject, merged = link_identity(
            session, keyring, known, "browser_id", BROWSER, now=NOW, actor=STAFF
        )
    assert (subject.id, merged) == (known, [browser])

    with Session(ledger_engine) as session:
        rows = session.scalars(select(Identity).order_by(Identity.id)).all()
        assert {row.subject_id for row in rows} == {known}
        # Moved identities were encrypted again, bound to their new subject.
        for row in rows:
            if row.kind in old_ciphertexts:
                assert row.ciphertext != old_ciphertexts[row.kind]
        values = identities_of(session, keyring, known)
        assert sorted((v.kind.value, v.value) for v in values) == [
            ("browser_id", BROWSER),
            ("email", EMAIL),
            ("phone", "+919876543210"),
        ]
        # The merged subject now reads as the known one, by id and by each of its identities.
        assert identities_of(session, keyring, browser) == values
        assert get_subject(session, browser).id == known
        merged_row = session.get(Subject, browser)
        assert merged_row is not None and merged_row.merged_into == known
        for kind, value in [("browser_id", BROWSER), ("phone", PHONE), ("email", EMAIL)]:
            found = find_subject(session, keyring, kind, value)
            assert found is not None and found.id == known
        assert merged_ids(session, known) == [known, browser]
        assert merged_ids(session, browser) == [browser]
        events = audit_events(session, "subject.merged")
        assert [(e.subject_id, e.details) for e in events] == [
            (known, {"merged_subject": browser, "identities_moved": 2})
        ]


def test_merges_chain_and_merged_ids_follows_every_link(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        known, _ = resolve(session, keyring, "email", EMAIL)
        first, _ = resolve(session, keyring, "browser_id", BROWSER)
        second, _ = resolve(session, keyring, "browser_id", OTHER_BROWSER)
        # The second browser turns out to be the first one, which turns out to be Ana.
        link_identity(session, keyring, first, "browser_id", OTHER_BROWSER, now=NOW, actor=STAFF)
        link_identity(session, keyring, known, "browser_id", BROWSER, now=NOW, actor=STAFF)
    with Session(ledger_engine) as session:
        assert get_subject(session, second).id == known
        assert sorted(merged_ids(session, known)) == sorted([known, first, second])
        assert {v.value for v in identities_of(session, keyring, second)} == {
            EMAIL,
            BROWSER,
            OTHER_BROWSER,
        }
        # A later link through a merged id lands on the subject it was merged into.
        subject, merged = link_identity(
            session, keyring, second, "phone", PHONE, now=NOW, actor=STAFF
        )
        assert (subject.id, merged) == (known, [])


def test_registry_audit_events_hold_no_personal_data(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine).begin() as session:
        known, _ = resolve(session, keyring, "email", EMAIL)
        browser, _ = resolve(session, keyring, "browser_id", BROWSER)
        link_identity(session, keyring, known, "phone", PHONE, now=NOW, actor=STAFF)
        link_identity(session, keyring, known, "browser_id", BROWSER, now=NOW, actor=STAFF)
    with Session(ledger_engine) as session:
        events = assert_audit_chain_clean(
            session, [EMAIL, "ana.ruiz", "+919876543210", "9876543210", BROWSER]
        )
    assert [e.action for e in events] == [
        "subject.created",
        "subject.created",
        "subject.identity_linked",
        "subject.merged",
    ]
    assert [e.subject_id for e in events] == [known, browser, known, known]


def test_unknown_subjects_are_refused_without_writing(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    with Session(ledger_engine) as session:
        with pytest.raises(UnknownSubject) as caught:
            get_subject(session, missing)
        assert caught.value.subject_id == missing
        assert isinstance(caught.value, SubjectError)
        with pytest.raises(UnknownSubject):
            identities_of(session, keyring, missing)
        with pytest.raises(UnknownSubject):
            link_identity(session, keyring, missing, "email", EMAIL, now=NOW, actor=STAFF)
        session.rollback()
        assert count(session, Identity) == 0
        assert audit_events(session) == []


def test_a_malformed_identity_is_refused_before_anything_is_written(
    ledger_engine: Engine, keyring: Keyring
) -> None:
    with make_sessionmaker(ledger_engine)() as session:
        with pytest.raises(IdentityError) as caught:
            resolve(session, keyring, "email", "ana.ruiz.example.com")
        assert "ana.ruiz" not in str(caught.value)
        with pytest.raises(IdentityError):
            resolve(session, keyring, "browser_id", "short")
        assert count(session, Subject) == 0
