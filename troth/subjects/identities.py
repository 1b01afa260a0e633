"""Identities of a data subject, normalised so that one person's email or phone finds one subject.

An identity is a kind (email, phone, the company's own user id, the cookie banner's browser id)
and a value. Values are personal data: an error message names the kind and what was wrong with
the shape, never the value, so that logs and error pages do not leak what a person typed.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from enum import StrEnum

import phonenumbers


class IdentityKind(StrEnum):
    email = "email"
    phone = "phone"
    external_id = "external_id"
    browser_id = "browser_id"


class IdentityError(ValueError):
    """An identity value that cannot be normalised; the message never contains the value."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


# RFC 5321 limits: 64 octets of local part, 254 of address (the 256 of a path less its brackets).
MAX_EMAIL = 254
MAX_LOCAL_PART = 64
MAX_EXTERNAL_ID = 256
MIN_BROWSER_ID = 16  # shorter tokens are guessable, and a guessed id is someone's consent record
MAX_BROWSER_ID = 128
MAX_PHONE_INPUT = 64

_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_BROWSER_ID = re.compile(r"[A-Za-z0-9_-]+")
# Printable ASCII other than space, plus any non-ASCII letter or mark (RFC 6531 addresses).
_LOCAL_FORBIDDEN = re.compile(r'[\s"(),:;<>@\[\\\]]')


def normalise(kind: IdentityKind | str, value: str, *, default_region: str | None = None) -> str:
    """The canonical form of an identity value, or IdentityError saying what is wrong.

    - email: trimmed and lower-cased (local part too: two spellings of one address must find
      one subject), an internationalised domain as its ASCII (``xn--``) form.
    - phone: E.164 (``+919876543210``). A number written without ``+`` and country code needs
      ``default_region``, the ISO 3166 region it is dialled in (``"IN"``).
    - external_id: the company's own user id, trimmed; case and content otherwise kept.
    - browser_id: an opaque URL-safe token of 16 to 128 characters, kept exactly.

    ``normalise`` is idempotent: a normalised value normalises to itself.
    """
    try:
        parsed_kind = IdentityKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in IdentityKind)
        raise IdentityError("identity", f"unknown kind {kind!r}; expected one of {known}") from None
    if not isinstance(value, str):
        raise IdentityError(parsed_kind, f"expected text, got {type(value).__name__}")
    if parsed_kind is IdentityKind.email:
        return _email(value)
    if parsed_kind is IdentityKind.phone:
        return _phone(value, default_region)
    if parsed_kind is IdentityKind.external_id:
        return _external_id(value)
    return _browser_id(value)


def new_browser_id() -> str:
    """A fresh anonymous browser id for the cookie banner: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def _email(value: str) -> str:
    kind = IdentityKind.email
    text = unicodedata.normalize("NFC", value.strip()).lower()
    text = unicodedata.normalize("NFC", text)
    if not text:
        raise IdentityError(kind, "is empty")
    if text.count("@") != 1:
        raise IdentityError(kind, "expected exactly one '@', as in name@example.com")
    local, domain = text.split("@")
    if not local:
        raise IdentityError(kind, "nothing before the '@'")
    if len(local.encode("utf-8")) > MAX_LOCAL_PART:
        raise IdentityError(kind, f"the part before '@' is longer than {MAX_LOCAL_PART} bytes")
    if _LOCAL_FORBIDDEN.search(local) or any(unicodedata.category(c)[0] == "C" for c in local):
        raise IdentityError(kind, "the part before '@' has spaces, quotes or control characters")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise IdentityError(kind, "the part before '@' has a misplaced '.'")
    ascii_domain = _ascii_domain(domain)
    address = f"{local}@{ascii_domain}"
    if len(address.encode("utf-8")) > MAX_EMAIL:
        raise IdentityError(kind, f"longer than {MAX_EMAIL} bytes")
    return address


def _ascii_domain(domain: str) -> str:
    kind = IdentityKind.email
    if not domain:
        raise IdentityError(kind, "nothing after the '@'")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii").lower()
        except UnicodeError:
            # The codec's message quotes the label; the value stays out of ours.
            raise IdentityError(kind, "the domain is not a valid internationalised name") from None
    labels = domain.split(".")
    if len(labels) < 2:
        raise IdentityError(kind, "the domain needs a dot, as in example.com")
    for label in labels:
        if not _DOMAIN_LABEL.fullmatch(label):
            raise IdentityError(
                kind, "the domain has an empty label, a bad character or a misplaced '-'"
            )
    if labels[-1].isdigit():
        raise IdentityError(kind, "the domain ends in a number; expected a name such as .com")
    return domain


def _phone(value: str, default_region: str | None) -> str:
    kind = IdentityKind.phone
    text = value.strip()
    if not text:
        raise IdentityError(kind, "is empty")
    if len(text) > MAX_PHONE_INPUT:
        raise IdentityError(kind, f"longer than {MAX_PHONE_INPUT} characters")
    region = None
    if default_region is not None:
        region = default_region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise IdentityError(
                kind, f"unknown default region {default_region!r}; expected ISO 3166 like 'IN'"
            )
    if region is None and not text.startswith("+"):
        raise IdentityError(
            kind,
            "a number without '+' and country code needs default_region "
            "(the ISO 3166 region it is dialled in, such as 'IN')",
        )
    try:
        number = phonenumbers.parse(text, region or "ZZ")
    except phonenumbers.NumberParseException:
        # Its message can quote what was typed.
        raise IdentityError(kind, "not a phone number") from None
    if number.extension:
        raise IdentityError(kind, "has an extension; an identity is the number without one")
    if not phonenumbers.is_valid_number(number):
        raise IdentityError(kind, "not a valid number for its country code")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _external_id(value: str) -> str:
    kind = IdentityKind.external_id
    text = unicodedata.normalize("NFC", value.strip())
    if not text:
        raise IdentityError(kind, "is empty")
    if len(text) > MAX_EXTERNAL_ID:
        raise IdentityError(kind, f"longer than {MAX_EXTERNAL_ID} characters")
    if any(unicodedata.category(c)[0] == "C" for c in text):
        raise IdentityError(kind, "has control or invisible formatting characters")
    return text


def _browser_id(value: str) -> str:
    kind = IdentityKind.browser_id
    if not MIN_BROWSER_ID <= len(value) <= MAX_BROWSER_ID:
        raise IdentityError(
            kind, f"expected {MIN_BROWSER_ID} to {MAX_BROWSER_ID} characters, got {len(value)}"
        )
    if not _BROWSER_ID.fullmatch(value):
        raise IdentityError(kind, "expected only letters, digits, '-' and '_' (a URL-safe token)")
    return value
