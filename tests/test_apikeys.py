"""API keys: created with scopes and shown once, stored hashed, authenticated, revoked, audited."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from apikey_support import CREATED, OPERATOR, database_text, make_key
from audit_support import count_events, migrated_engine
from sqlalchemy import Engine, select

from troth.apikeys import (
    SCOPES,
    ApiKey,
    ApiKeyNotFound,
    UnknownScope,
    authenticate,
    create_key,
    list_keys,
    parse_key,
    revoke_key,
)
from troth.audit import Actor, AuditEvent, export_events, verify_chain
from troth.store import make_sessionmaker


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with migrated_engine(request.param, tmp_path, postgres_url) as engine:
        yield engine


def events(engine: Engine) -> list[AuditEvent]:
    with make_sessionmaker(engine)() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def authenticated(engine: Engine, presented: str) -> ApiKey | None:
    with make_sessionmaker(engine)() as session:
        return authenticate(session, presented)


def test_the_scope_registry_names_each_scope_with_a_description() -> None:
    assert list(SCOPES) == [
        "consent:read",
        "consent:write",
        "data:read",
        "decide",
        "subjects:read",
        "vault:write",
        "publications:read",
        "publications:write",
        "requests:read",
        "requests:write",
        "retention:read",
        "retention:write",
    ]
    assert all(description.strip() for description in SCOPES.values())


def test_a_new_key_is_shown_in_full_once_and_only_its_hash_is_stored(engine: Engine) -> None:
    key, text = make_key(engine, ["decide", "consent:write"], name="newsletter service")
    parts = parse_key(text)
    assert parts is not None, text
    key_id, secret = parts
    assert text == f"troth_{key_id}_{secret}"
    assert key.id == key_id and len(key_id) == 12
    assert len(secret) == 43  # 32 bytes, URL-safe base64
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.scopes == ["consent:write", "decide"]  # the registry's order
    assert (key.name, key.created_at, key.revoked_at) == ("newsletter service", CREATED, None)
    stored = database_text(engine)
    assert key.secret_hash in stored
    assert secret not in stored
    assert text not in stored


def test_every_key_gets_its_own_id_and_secret(engine: Engine) -> None:
    texts = [make_key(engine, ["decide"])[1] for _ in range(20)]
    parts = [parse_key(text) for text in texts]
    assert len({p[0] for p in parts if p}) == 20
    assert len({p[1] for p in parts if p}) == 20


def test_creating_a_key_writes_its_audit_event_without_the_secret(engine: Engine) -> None:
    key, text = make_key(engine, ["decide"], name="shop backend")
    [event] = events(engine)
    assert (event.action, event.actor_kind, event.actor_id) == (
        "apikey.created",
        "system",
        "test.operator",
    )
    assert event.details == {"key_id": key.id, "scopes": ["decide"]}
    assert event.occurred_at == CREATED
    exported = _exported(engine)
    assert key.id in exported
    parts = parse_key(text)
    assert parts is not None, text
    # The secret is URL-safe base64 and may itself contain "_": take it from the parser.
    for never in (text, parts[1], key.secret_hash, "shop backend"):
        assert never not in exported


def test_a_data_read_key_carries_its_staff_role_and_no_other_key_has_one(engine: Engine) -> None:
    with make_sessionmaker(engine).begin() as session:
        key, text = create_key(
            session,
            name="crm",
            scopes=["data:read", "decide"],
            now=CREATED,
            actor=OPERATOR,
            staff_role="sales",
        )
    found = authenticated(engine, text)
    assert found is not None and found.staff_role == "sales"
    [event] = events(engine)
    assert event.details == {
        "key_id": key.id,
        "scopes": ["data:read", "decide"],
        "staff_role": "sales",
    }
    for scopes, role, message in (
        (["data:read"], None, "reads under a staff role"),
        (["decide"], "sales", "only matters to a key with the data:read scope"),
        (["data:read"], "sales team", "a staff role is a key"),
        (["data:read"], "x" * 201, "a staff role is a key"),
    ):
        with make_sessionmaker(engine)() as session, pytest.raises(ValueError, match=message):
            create_key(
                session, name="x", scopes=scopes, now=CREATED, actor=OPERATOR, staff_role=role
            )
    assert len(events(engine)) == 1


def test_a_rolled_back_creation_leaves_neither_key_nor_event(engine: Engine) -> None:
    with make_sessionmaker(engine)() as session:
        create_key(session, name="x", scopes=["decide"], now=CREATED, actor=OPERATOR)
        session.rollback()
    with make_sessionmaker(engine)() as session:
        assert list_keys(session) == []
        assert count_events(session) == 0


def test_an_unknown_scope_is_refused_by_name_and_nothing_is_written(engine: Engine) -> None:
    with make_sessionmaker(engine).begin() as session, pytest.raises(UnknownScope) as raised:
        create_key(
            session, name="x", scopes=["decide", "consent:delete"], now=CREATED, actor=OPERATOR
        )
    message = str(raised.value)
    assert "'consent:delete'" in message
    assert all(scope in message for scope in SCOPES)
    assert isinstance(raised.value, ValueError)
    with make_sessionmaker(engine)() as session:
        assert list_keys(session) == []
        assert count_events(session) == 0


@pytest.mark.parametrize(
    ("name", "scopes", "now", "expected"),
    [
        ("x", [], CREATED, "at least one scope"),
        ("x" * 101, ["decide"], CREATED, "at most 100 characters"),
        ("bad\nname", ["decide"], CREATED, "control characters"),
        ("x", ["decide"], CREATED.replace(tzinfo=None), "timezone-aware"),
    ],
)
def test_unusable_input_is_refused(
    engine: Engine, name: str, scopes: list[str], now: datetime, expected: str
) -> None:
    with make_sessionmaker(engine)() as session, pytest.raises(ValueError, match=expected):
        create_key(session, name=name, scopes=scopes, now=now, actor=OPERATOR)


def test_repeated_scopes_are_kept_once_and_the_name_is_trimmed(engine: Engine) -> None:
    key, _ = make_key(engine, ["decide", "decide", "consent:read"], name="  crm sync  ")
    assert key.scopes == ["consent:read", "decide"]
    assert key.name == "crm sync"


def test_the_right_key_authenticates(engine: Engine) -> None:
    key, text = make_key(engine, ["decide"])
    found = authenticated(engine, text)
    assert found is not None
    assert (found.id, found.scopes) == (key.id, ["decide"])


def test_a_wrong_secret_an_unknown_id_or_a_malformed_key_does_not(engine: Engine) -> None:
    _, text = make_key(engine, ["decide"])
    _, other = make_key(engine, ["decide"])
    key_id, secret = parse_key(text) or ("", "")
    _, other_secret = parse_key(other) or ("", "")
    assert authenticated(engine, f"troth_{key_id}_{'A' * 43}") is None
    assert authenticated(engine, f"troth_{key_id}_{other_secret}") is None  # another key's secret
    assert authenticated(engine, f"troth_{'a' * 12}_{secret}") is None  # unknown id
    for malformed in (
        "",
        secret,
        f"{key_id}_{secret}",
        f"troth_{key_id}_{secret[:-1]}",
        f"troth_{key_id}_{secret}x",
        f"troth_{key_id.upper()}_{secret}",
        f" {text}",
        f"troth_{key_id}:{secret}",
    ):
        assert parse_key(malformed) is None, malformed
        assert authenticated(engine, malformed) is None, malformed
    assert authenticated(engine, text) is not None


def test_a_revoked_key_no_longer_authenticates(engine: Engine) -> None:
    key, text = make_key(engine, ["decide"])
    revoked_at = CREATED + timedelta(days=2)
    with make_sessionmaker(engine).begin() as session:
        row, revoked = revoke_key(session, key.id, now=revoked_at, actor=Actor.staff("stf_7"))
    assert revoked
    assert row.revoked_at == revoked_at
    assert authenticated(engine, text) is None
    _, revocation = events(engine)
    assert (revocation.action, revocation.actor_kind, revocation.actor_id) == (
        "apikey.revoked",
        "staff",
        "stf_7",
    )
    assert revocation.details == {"key_id": key.id}
    with make_sessionmaker(engine)() as session:
        assert verify_chain(session).ok


def test_revoking_twice_changes_nothing_the_second_time(engine: Engine) -> None:
    key, _ = make_key(engine, ["decide"])
    first_time = CREATED + timedelta(hours=1)
    for now in (first_time, first_time + timedelta(hours=1)):
        with make_sessionmaker(engine).begin() as session:
            row, revoked = revoke_key(session, key.id, now=now, actor=OPERATOR)
    assert not revoked
    assert row.revoked_at == first_time
    assert [event.action for event in events(engine)] == ["apikey.created", "apikey.revoked"]


def test_revoking_an_unknown_key_is_an_error_and_writes_nothing(engine: Engine) -> None:
    with make_sessionmaker(engine).begin() as session, pytest.raises(ApiKeyNotFound, match="abc"):
        revoke_key(session, "abc", now=CREATED, actor=OPERATOR)
    assert events(engine) == []


def test_list_keys_shows_every_key_oldest_first_revoked_ones_too(engine: Engine) -> None:
    make_key(engine, ["decide"], name="later", now=CREATED + timedelta(minutes=5))
    earlier, _ = make_key(engine, ["consent:read"], name="earlier")
    with make_sessionmaker(engine).begin() as session:
        revoke_key(session, earlier.id, now=CREATED + timedelta(hours=1), actor=OPERATOR)
    with make_sessionmaker(engine)() as session:
        listed = list_keys(session)
    assert [(k.name, k.revoked_at is not None) for k in listed] == [
        ("earlier", True),
        ("later", False),
    ]


def _exported(engine: Engine) -> str:
    stream = io.StringIO()
    with make_sessionmaker(engine)() as session:
        export_events(session, stream)
    return stream.getvalue()
