"""Staff accounts: the address sealed and found by a keyed index, roles, disabling, audit."""

from __future__ import annotations

import pytest
from apikey_support import database_text
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from staff_support import ADMIN_EMAIL, OPERATOR, PASSWORD, STARTED, actions, make_member

from troth.audit import verify_chain
from troth.staff import (
    Role,
    StaffAccountExists,
    StaffAccountNotFound,
    UnknownRole,
    WeakPassword,
    create_account,
    disable_account,
    email_of,
    find_account,
    list_accounts,
    parse_role,
)
from troth.subjects import IdentityKind, Keyring, MasterKey


def test_the_address_is_stored_sealed_and_found_by_its_index(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    member = make_member(ledger_engine, keyring, "Ada.Admin@Example.ORG", Role.admin)
    stored = database_text(ledger_engine)
    assert "ada.admin" not in stored.lower()  # neither the address nor its local part
    assert PASSWORD not in stored
    with sessions() as session:
        found = find_account(session, keyring, ADMIN_EMAIL)
        assert found is not None and found.id == member.id
        assert email_of(keyring, found) == ADMIN_EMAIL
        assert find_account(session, keyring, "someone.else@example.org") is None
        assert find_account(session, keyring, "not an address") is None
        # Another master key finds nothing and reads nothing.
        assert find_account(session, Keyring(MasterKey.generate()), ADMIN_EMAIL) is None


def test_a_staff_index_is_unrelated_to_a_subjects_index_of_the_same_address(
    keyring: Keyring,
) -> None:
    assert keyring.staff_index(ADMIN_EMAIL) != keyring.index(IdentityKind.email, ADMIN_EMAIL)


def test_an_account_is_found_during_a_master_key_rotation(
    ledger_engine: Engine, sessions: sessionmaker[Session]
) -> None:
    old = MasterKey.generate()
    make_member(ledger_engine, Keyring(old), ADMIN_EMAIL, Role.admin)
    rotating = Keyring(MasterKey.generate(), previous=[old])
    with sessions() as session:
        found = find_account(session, rotating, ADMIN_EMAIL)
        assert found is not None
        assert email_of(rotating, found) == ADMIN_EMAIL


def test_one_account_per_address(ledger_engine: Engine, keyring: Keyring) -> None:
    make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.admin)
    with pytest.raises(StaffAccountExists):
        make_member(ledger_engine, keyring, ADMIN_EMAIL.upper(), Role.agent)


def test_creation_checks_the_password_the_address_and_the_name(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    def create(**changes: str) -> None:
        fields = {"email": ADMIN_EMAIL, "password": PASSWORD, "display_name": "Ada"} | changes
        with sessions.begin() as session:
            create_account(session, keyring, role=Role.admin, now=STARTED, actor=OPERATOR, **fields)

    with pytest.raises(WeakPassword):
        create(password="short")
    with pytest.raises(ValueError, match="email"):
        create(email="not an address")
    with pytest.raises(ValueError, match="control characters"):
        create(display_name="Ada\x1b[31m")
    with sessions() as session:
        assert list_accounts(session) == []


def test_roles_parse_and_unknown_ones_are_named(ledger_engine: Engine, keyring: Keyring) -> None:
    assert parse_role(" Privacy_Officer ") is Role.privacy_officer
    with pytest.raises(UnknownRole, match=r"'owner'.*admin, privacy_officer, agent, auditor"):
        parse_role("owner")


def test_creating_and_disabling_are_audited_by_id_only(
    ledger_engine: Engine, sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    member = make_member(ledger_engine, keyring, ADMIN_EMAIL, Role.auditor)
    with sessions.begin() as session:
        _, disabled = disable_account(session, keyring, ADMIN_EMAIL, now=STARTED, actor=OPERATOR)
        assert disabled
    with sessions.begin() as session:
        account, disabled = disable_account(
            session, keyring, ADMIN_EMAIL, now=STARTED, actor=OPERATOR
        )
        assert not disabled and account.disabled_at == STARTED
    with sessions.begin() as session, pytest.raises(StaffAccountNotFound):
        disable_account(session, keyring, "nobody@example.org", now=STARTED, actor=OPERATOR)
    assert actions(ledger_engine) == [
        ("staff.account_created", "troth.cli", {"staff_id": member.id, "role": "auditor"}),
        ("staff.account_disabled", "troth.cli", {"staff_id": member.id, "sessions_ended": 0}),
    ]
    with sessions() as session:
        assert verify_chain(session).ok
