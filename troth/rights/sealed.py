"""Values of a request kept encrypted under its subject's own data key.

Each ciphertext is bound to its request and field, so it cannot be moved to another row. The key
is the one of the subject the request was made for, even after a merge (as the outbox does); a
shredded subject's request fields can no longer be read, which is the point of erasure.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from troth.subjects import Keyring, decrypt, encrypt
from troth.subjects.models import Subject
from troth.subjects.registry import UnknownSubject, data_key


def _associated_data(part: str, request_id: str, subject_id: str) -> bytes:
    return f"troth.rights\x00{part}\x00{request_id}\x00{subject_id}".encode()


def _subject(session: Session, subject_id: str) -> Subject:
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise UnknownSubject(subject_id)
    return subject


def seal_bytes(
    session: Session, keyring: Keyring, subject_id: str, request_id: str, part: str, data: bytes
) -> bytes:
    key = data_key(keyring, _subject(session, subject_id))
    return encrypt(key, data, _associated_data(part, request_id, subject_id))


def open_bytes(
    session: Session, keyring: Keyring, subject_id: str, request_id: str, part: str, data: bytes
) -> bytes:
    """Raises ShreddedSubject once the subject's key is destroyed."""
    key = data_key(keyring, _subject(session, subject_id))
    return decrypt(key, data, _associated_data(part, request_id, subject_id))


def seal(
    session: Session, keyring: Keyring, subject_id: str, request_id: str, part: str, value: Any
) -> bytes:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    return seal_bytes(session, keyring, subject_id, request_id, part, text)


def unseal(
    session: Session, keyring: Keyring, subject_id: str, request_id: str, part: str, data: bytes
) -> Any:
    return json.loads(open_bytes(session, keyring, subject_id, request_id, part, data))
