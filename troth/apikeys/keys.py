"""Create, authenticate, revoke and list API keys.

A key as a caller presents it is ``troth_<id>_<secret>``: ``id`` is 12 characters of lower-case
base32 and public (it names the key in listings and audit events); ``secret`` is 32 random bytes,
URL-safe base64 without padding (43 characters). troth keeps only the SHA-256 of the secret, so
the key is shown once, when it is created. A fast hash is enough here, unlike for passwords: the
secret is 256 random bits, not something a person chose.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration.model import KEY_MAX_LENGTH, KEY_PATTERN

from .models import ApiKey
from .scopes import checked_scopes

KEY_PREFIX = "troth_"
ID_LENGTH = 12
SECRET_BYTES = 32
MAX_NAME_LENGTH = 100
# The scope whose calls read subjects' data, and so need a staff role (P22).
ROLE_SCOPE = "data:read"

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_PRESENTED = re.compile(r"troth_(?P<id>[a-z2-7]{12})_(?P<secret>[A-Za-z0-9_-]{43})")
_NO_SUCH_HASH = "0" * 64
_ROLE = re.compile(KEY_PATTERN)


class ApiKeyNotFound(LookupError):
    """No API key has this id."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"no API key has the id {key_id!r}")


@dataclass(frozen=True)
class AuthenticatedKey:
    """What a request may know of the key it came with: never the secret or its hash."""

    id: str
    name: str
    scopes: frozenset[str]
    staff_role: str | None = None

    @classmethod
    def from_row(cls, row: ApiKey) -> AuthenticatedKey:
        return cls(
            id=row.id, name=row.name, scopes=frozenset(row.scopes), staff_role=row.staff_role
        )

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def actor(self) -> Actor:
        """The key as the actor of the audit events its calls cause."""
        return Actor.api_key(self.id)


def parse_key(presented: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a key in the form ``troth_<id>_<secret>``, or None if malformed."""
    match = _PRESENTED.fullmatch(presented)
    return (match["id"], match["secret"]) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Whether ``secret`` hashes to ``stored_hash``, in constant time; None (no key) never does."""
    # An unknown id is compared too, so that it costs what a wrong secret does.
    matches = hmac.compare_digest(hash_secret(secret), stored_hash or _NO_SUCH_HASH)
    return matches and stored_hash is not None


def create_key(
    session: Session,
    *,
    name: str,
    scopes: Iterable[str],
    now: datetime,
    actor: Actor,
    staff_role: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key with ``scopes``, and its full text, ``troth_<id>_<secret>``, to show once.

    ``staff_role`` names the declared staff role (P22) whose reads the key makes; a key with the
    ``data:read`` scope needs one, and no other key may have one. Whether the role is declared
    is checked on every read, against the policy then in force.

    Only the secret's hash is stored. Writes the audit event ``apikey.created`` (the key's id,
    scopes and role, never its name, secret or hash) in the same transaction; the caller
    commits. Raises :class:`~troth.apikeys.UnknownScope` naming an unknown scope,
    :class:`ValueError` for no scopes, an unusable name, or a role missing or not wanted.
    """
    _require_aware(now, "create_key")
    granted = checked_scopes(scopes)
    _check_role(granted, staff_role)
    key_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    secret = secrets.token_urlsafe(SECRET_BYTES)
    key = ApiKey(
        id=key_id,
        name=_checked_name(name),
        secret_hash=hash_secret(secret),
        scopes=granted,
        created_at=now,
        revoked_at=None,
        staff_role=staff_role,
    )
    session.add(key)
    details: dict[str, Any] = {"key_id": key_id, "scopes": granted}
    if staff_role is not None:
        details["staff_role"] = staff_role
    record_event(session, actor=actor, action="apikey.created", details=details, now=now)
    return key, f"{KEY_PREFIX}{key_id}_{secret}"


def authenticate(session: Session, presented: str) -> ApiKey | None:
    """The key ``presented`` is, if it is well formed, known, its secret right and not revoked."""
    parts = parse_key(presented)
    if parts is None:
        return None
    key_id, secret = parts
    key = session.get(ApiKey, key_id)
    matches = secret_matches(secret, key.secret_hash if key else None)
    if key is None or not matches or key.revoked_at is not None:
        return None
    return key


def revoke_key(
    session: Session, key_id: str, *, now: datetime, actor: Actor
) -> tuple[ApiKey, bool]:
    """Revoke a key; ``revoked`` is False when it already was (then nothing is written).

    The row stays, so that the audit trail and listings can still name the key. Writes the
    audit event ``apikey.revoked`` in the same transaction; the caller commits. Raises
    :class:`ApiKeyNotFound` for an unknown id.
    """
    _require_aware(now, "revoke_key")
    # One conditional UPDATE, so that of two revocations at once exactly one records an event.
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    key = session.get(ApiKey, key_id, populate_existing=True)
    if key is None:
        raise ApiKeyNotFound(key_id)
    if result.rowcount == 0:
        return key, False
    record_event(session, actor=actor, action="apikey.revoked", details={"key_id": key_id}, now=now)
    return key, True


def get_key(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def _checked_name(name: str) -> str:
    cleaned = name.strip()
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(
            f"an API key's name is at most {MAX_NAME_LENGTH} characters, not {len(cleaned)}"
        )
    if any(unicodedata.category(char).startswith("C") for char in cleaned):
        raise ValueError("an API key's name cannot contain control characters")
    return cleaned


def _check_role(scopes: list[str], staff_role: str | None) -> None:
    if ROLE_SCOPE in scopes and staff_role is None:
        raise ValueError(
            f"a key with the {ROLE_SCOPE} scope reads under a staff role: name one of the "
            "declaration's staff_roles (--role)"
        )
    if staff_role is None:
        return
    if ROLE_SCOPE not in scopes:
        raise ValueError(f"a staff role only matters to a key with the {ROLE_SCOPE} scope")
    if len(staff_role) > KEY_MAX_LENGTH or not _ROLE.fullmatch(staff_role):
        raise ValueError("a staff role is a key from the declaration's staff_roles, e.g. 'sales'")


def _require_aware(now: datetime, caller: str) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"{caller} needs a timezone-aware 'now'")
