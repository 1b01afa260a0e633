"""Suggested data categories for a column, from its name and from a sample of its values.

A suggestion is a starting point for a person, never a decision: ``troth datasets scaffold``
marks each one for review. Names are split into words (``billingName`` and ``billing_name`` are
``billing name``) and matched against phrases in order, most specific first, so ``ip_address``
is an IP address and not a postal one. Values are only ever tested against patterns here; none
is kept, returned or written anywhere.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from troth.vault.cards import MAX_DIGITS, MIN_DIGITS, luhn_valid

# (category, phrases): a phrase matches when its words appear together in the column's name.
NAME_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("user.contact.email", ("email", "e mail", "mail")),
    ("user.device.ip_address", ("ip", "ip address", "ipaddr", "ipaddress", "remote addr")),
    ("user.device", ("user agent", "useragent")),
    ("user.device.device_id", ("device id", "mac address", "imei")),
    ("user.device.cookie_id", ("cookie", "cookie id")),
    ("user.authorization.password", ("password", "passwd", "pwd", "password hash")),
    ("user.account.username", ("username", "user name", "login name", "handle")),
    ("user.contact.phone_number", ("phone", "telephone", "tel", "mobile", "cell", "msisdn")),
    ("user.contact.fax_number", ("fax",)),
    ("user.name.first", ("first name", "firstname", "given name", "forename")),
    ("user.name.last", ("last name", "lastname", "surname", "family name")),
    (
        "user.name",
        (
            "full name",
            "fullname",
            "display name",
            "holder",
            "cardholder",
            "billing name",
            "shipping name",
            "contact name",
            "customer name",
            "recipient",
        ),
    ),
    ("user.demographic.date_of_birth", ("birth", "dob", "birthday", "birthdate")),
    (
        "user.government_id.national_identification_number",
        ("ssn", "national id", "social security", "nin", "tax id"),
    ),
    ("user.government_id.passport_number", ("passport",)),
    ("user.government_id.drivers_license_number", ("drivers license", "driving licence")),
    ("user.financial.credit_card", ("card", "card number", "pan", "cc number", "credit card")),
    ("user.financial.bank_account", ("iban", "bank account", "account number")),
    ("user.contact.address.postal_code", ("zip", "zipcode", "postal", "postcode")),
    ("user.contact.address.city", ("city", "town")),
    ("user.contact.address.country", ("country",)),
    ("user.contact.address.street", ("street", "address", "addr", "address line")),
    ("user.location.precise", ("lat", "latitude", "lng", "lon", "longitude", "geo")),
    ("user.demographic.gender", ("gender", "sex")),
    ("user.job_title", ("job title",)),
    ("user.content.private", ("message", "comment", "comments", "note", "notes", "bio")),
)
# A bare ``name`` column is a person's name unless the table is about something else; that is
# for the reviewer to say, so it is suggested like the others.
BARE_NAME = "user.name"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[^A-Za-z0-9]+")
# The share of sampled values that must fit a pattern for the column to look like it.
SHARE = 0.8


def words(column: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD_BREAK.split(column) if w)


def _contains(haystack: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    size = len(phrase)
    return any(haystack[i : i + size] == phrase for i in range(len(haystack) - size + 1))


def from_name(column: str) -> str | None:
    """The category a column's name suggests, or None."""
    found = words(column)
    if found == ("name",):
        return BARE_NAME
    for category, phrases in NAME_RULES:
        if any(_contains(found, tuple(p.split())) for p in phrases):
            return category
    return None


def _is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_card(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    return digits.isdigit() and MIN_DIGITS <= len(digits) <= MAX_DIGITS and luhn_valid(digits)


def _is_phone(value: str) -> bool:
    # Written as a phone number: digits with a leading + or 0, or with separators, 7 to 15 of
    # them; a bare run of digits is more often an order number than a phone number.
    if not _PHONE.match(value):
        return False
    digits = sum(c.isdigit() for c in value)
    written = value.startswith(("+", "0", "(")) or any(c in value for c in " -.()")
    return 7 <= digits <= 15 and written


VALUE_RULES = (
    ("user.contact.email", _is_email),
    ("user.device.ip_address", _is_ip),
    ("user.financial.credit_card", _is_card),
    ("user.contact.phone_number", _is_phone),
)


def from_values(values: Iterable[object]) -> str | None:
    """The category most sampled values fit, or None (no text values, or no clear pattern)."""
    texts = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not texts:
        return None
    for category, test in VALUE_RULES:
        if sum(1 for t in texts if test(t)) >= SHARE * len(texts):
            return category
    return None
