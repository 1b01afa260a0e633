"""`troth apikey create --role` for need-to-know reads, and `troth audit who-read` (P22)."""

from __future__ import annotations

import json

from consent_support import NOW
from test_cli_apikeys import audit_actions, create, key_id_of, troth
from vault_support import EMAIL, NAME, submit

from troth.audit import Actor
from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring
from troth.vault import read_for_staff


def test_a_data_read_key_is_created_under_a_role_which_list_shows(sqlite_url: str) -> None:
    code, stdout, stderr = troth(
        "apikey", "create", "--scope", "data:read", "--role", "sales", "--name", "crm",
        "--db", sqlite_url,
    )  # fmt: skip
    assert code == 0, stderr
    key_id = key_id_of(stdout.strip())
    assert "reading as staff role sales" in stderr
    [(action, _actor, details)] = audit_actions(sqlite_url)
    assert action == "apikey.created"
    assert details == {"key_id": key_id, "scopes": ["data:read"], "staff_role": "sales"}
    code, listing, _ = troth("apikey", "list", "--db", sqlite_url)
    assert code == 0
    [header, row] = listing.splitlines()
    assert header.split() == ["ID", "STATE", "CREATED", "SCOPES", "ROLE", "NAME"]
    assert row.startswith(key_id) and "data:read  sales  crm" in row


def test_a_role_is_needed_with_data_read_and_refused_without_it(sqlite_url: str) -> None:
    code, _, stderr = troth("apikey", "create", "--scope", "data:read", "--db", sqlite_url)
    assert code == 1 and "reads under a staff role" in stderr
    code, _, stderr = troth(
        "apikey", "create", "--scope", "decide", "--role", "sales", "--db", sqlite_url
    )
    assert code == 1 and "only matters to a key with the data:read scope" in stderr
    code, _, stderr = troth(
        "apikey", "create", "--scope", "data:read", "--role", "Sales Team", "--db", sqlite_url
    )
    assert code == 1 and "a staff role is a key" in stderr
    assert audit_actions(sqlite_url) == []
    create(sqlite_url, "--scope", "decide")  # the database still works


def test_who_read_lists_each_read_and_refusal(
    sqlite_url: str, kestrel_policy: Policy, keyring: Keyring
) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        subject_id = submit(session, kestrel_policy, keyring).subject_id
    for role, purpose in (("sales", "answer_inquiries"), ("sales", "billing")):
        with sessions.begin() as session:
            read_for_staff(
                session, kestrel_policy, keyring, subject_id=subject_id, role=role,
                purpose=purpose, actor=Actor.api_key("crmkey000001"), now=NOW, staff_ref="e-9",
            )  # fmt: skip
    engine.dispose()

    code, stdout, stderr = troth("audit", "who-read", subject_id, "--db", sqlite_url)
    assert code == 0, stderr
    assert "api_key:crmkey000001" in stdout and "e-9" in stdout
    assert "4 item(s): user.contact.email" in stdout
    assert "refused: staff role 'sales' may not read for purpose 'billing'" in stdout
    assert EMAIL not in stdout and NAME not in stdout

    code, stdout, _ = troth("audit", "who-read", subject_id, "--json", "--db", sqlite_url)
    assert code == 0
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [(r["purpose"], r["items"], r["refused"] is None) for r in lines] == [
        ("answer_inquiries", 4, True),
        ("billing", 0, False),
    ]
    assert lines[0]["actor"] == "api_key:crmkey000001" and lines[0]["policy_version"] == "3.0"


def test_who_read_of_an_unknown_subject_or_an_unread_one(
    sqlite_url: str, kestrel_policy: Policy, keyring: Keyring
) -> None:
    upgrade(sqlite_url)
    code, _, stderr = troth("audit", "who-read", "no-such-subject", "--db", sqlite_url)
    assert code == 1 and "there is no subject 'no-such-subject'" in stderr
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine).begin() as session:
        subject_id = submit(session, kestrel_policy, keyring).subject_id
    engine.dispose()
    code, stdout, _ = troth("audit", "who-read", subject_id, "--db", sqlite_url)
    assert code == 0 and "no one has read the data of subject" in stdout
