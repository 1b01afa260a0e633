"""What a publication says and where its links lead: sealed under the subject's key, signed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from troth.notify import sign_link
from troth.subjects import DataKey, Keyring, decrypt, encrypt
from troth.subjects.models import Subject
from troth.subjects.registry import UnknownSubject, data_key

from .models import Publication

REVIEW_PURPOSE = "publication.review"
WITHDRAW_PURPOSE = "publication.withdraw"
# Long enough to read an email after a holiday; a lapsed link means staff send a new one.
REVIEW_FOR = timedelta(days=14)
# A withdraw link should outlive most publications; after it, staff withdraw on request.
WITHDRAW_FOR = timedelta(days=365)
# The web pages the links open (troth.web.publications serves them).
REVIEW_PATH = "/publications/review/"
WITHDRAW_PATH = "/publications/withdraw/"


@dataclass(frozen=True)
class PublicationText:
    title: str
    text: str


def _associated_data(part: str, publication_id: str, subject_id: str) -> bytes:
    return f"troth.publication\x00{part}\x00{publication_id}\x00{subject_id}".encode()


def _subject_key(session: Session, keyring: Keyring, subject_id: str) -> DataKey:
    # The subject's own row: a later merge keeps its key, and the item stays under it.
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise UnknownSubject(subject_id)
    return data_key(keyring, subject)


def seal(
    session: Session, keyring: Keyring, item: Publication, text: PublicationText, review_to: str
) -> None:
    """Encrypt the title, text and review address onto ``item`` under its subject's key."""
    key = _subject_key(session, keyring, item.subject_id)
    content = json.dumps({"title": text.title, "text": text.text}, ensure_ascii=False).encode()
    item.content = encrypt(key, content, _associated_data("content", item.id, item.subject_id))
    item.review_to = encrypt(
        key,
        review_to.encode(),
        _associated_data("review_to", item.id, item.subject_id),
    )


def unseal(session: Session, keyring: Keyring, item: Publication) -> PublicationText:
    """The title and text; ShreddedSubject if the subject was erased."""
    key = _subject_key(session, keyring, item.subject_id)
    data = json.loads(
        decrypt(key, item.content, _associated_data("content", item.id, item.subject_id))
    )
    return PublicationText(title=data["title"], text=data["text"])


def review_address(session: Session, keyring: Keyring, item: Publication) -> str:
    key = _subject_key(session, keyring, item.subject_id)
    return decrypt(
        key,
        item.review_to,
        _associated_data("review_to", item.id, item.subject_id),
    ).decode()


def review_link(keyring: Keyring, base_url: str, item: Publication, now: datetime) -> str:
    token = sign_link(
        keyring,
        REVIEW_PURPOSE,
        {"publication": item.id, "revision": item.revision},
        now + REVIEW_FOR,
    )
    return f"{base_url.rstrip('/')}{REVIEW_PATH}{token}"


def withdraw_link(keyring: Keyring, base_url: str, item: Publication, now: datetime) -> str:
    token = sign_link(keyring, WITHDRAW_PURPOSE, {"publication": item.id}, now + WITHDRAW_FOR)
    return f"{base_url.rstrip('/')}{WITHDRAW_PATH}{token}"


def long_date(value: datetime) -> str:
    return f"{value.day} {value:%B %Y}"
