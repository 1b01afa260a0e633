"""What the vault tests share: a contact-form submission, the values in it, and a collect call
with the test's defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from consent_support import NOW, STAFF
from sqlalchemy.orm import Session

from troth.declaration import Policy
from troth.subjects import Keyring
from troth.vault import Collected, collect

EMAIL = "priya.natarajan@example.in"
PHONE = "+91 98220 11234"
NAME = "Priya Natarajan"
COMPANY = "Sahyadri Robotics"
MESSAGE = "We need a warehouse tracking app by March; can we talk on Tuesday?"
# Luhn-valid test card numbers, as people type them.
CARD = "4111 1111 1111 1111"
CARD_DASHED = "5500-0000-0000-0004"
CARD_PLAIN = "378282246310005"

CONTACT_FORM: list[dict[str, str]] = [
    {"category": "user.name", "value": NAME},
    {"category": "user.contact.email", "value": EMAIL},
    {"category": "user.contact.phone_number", "value": PHONE},
    {"category": "user.contact.organization", "value": COMPANY},
    {"category": "user.content.private", "value": MESSAGE},
]
# The values of CONTACT_FORM that identify the person; none may reach storage in plain text.
PERSONAL = (EMAIL, PHONE, NAME, MESSAGE)


def submit(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    fields: list[dict[str, str]] | None = None,
    *,
    identity: tuple[str, str] = ("email", EMAIL),
    source: str = "contact_form",
    purpose: str = "answer_inquiries",
    collection_point: str | None = "contact form, https://kestrel.example/contact",
    now: datetime = NOW,
    **extra: Any,
) -> Collected:
    return collect(
        session,
        policy,
        keyring,
        identity=identity,
        fields=CONTACT_FORM if fields is None else fields,
        source=source,
        purpose=purpose,
        collection_point=collection_point,
        now=now,
        actor=STAFF,
        **extra,
    )


def without_rules(*keys: str) -> Policy:
    """The Kestrel example without these retention rules (still a valid declaration)."""
    from support import dump, kestrel_data, read

    data = kestrel_data()
    data["retention"] = [rule for rule in data["retention"] if rule["key"] not in keys]
    policy, problems = read(dump(data))
    assert policy is not None, problems
    return policy
