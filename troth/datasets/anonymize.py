"""How a retention rule with ``action: anonymize`` treats each field of a row (P18).

Anonymizing a row keeps it for counting and analysis but makes it impossible to tie to a person,
irreversibly. Each personal field gets one treatment, from its Fides data categories:

``remove``
    Direct identifiers, which name or single out a person on their own: names, e-mail addresses,
    phone numbers, street addresses, government and account identifiers, payment details, device
    identifiers and IP addresses, free text (which can name anyone), precise location. Every field
    with an ``identity`` is removed too, whatever its categories. A removed value is set to NULL;
    where the column is NOT NULL it gets a keyed hash of the row's *primary key* instead (never of
    the value, so the value cannot be recovered by hashing guesses, and distinct rows stay
    distinct for UNIQUE columns).
``postal_code``
    A postal code keeps its first three characters (a district, not a street).
``year``
    A date of birth, and any other personal date or time column that is kept, becomes the first
    day of its year: an exact date is a quasi-identifier that can single a person out.
``keep``
    Attributes that describe but do not identify: behaviour (pages visited, purchases), an age
    range, gender, language, city, state, country, imprecise location, privacy preferences.

The table is by category prefix, longest match first, so a custom key under a Fides key
(``user.contact.email.work``) is treated as its parent. A category the table does not name is
removed: troth does not keep what it cannot show to be harmless. A field with several categories
gets the strictest treatment among them.
"""

from __future__ import annotations

from typing import Literal

from .model import Field

Treatment = Literal["remove", "postal_code", "year", "keep"]

# Category prefix -> treatment. Anything under ``user`` that no entry covers is removed.
TREATMENTS: dict[str, Treatment] = {
    # direct identifiers
    "user.name": "remove",
    "user.contact.email": "remove",
    "user.contact.phone_number": "remove",
    "user.contact.fax_number": "remove",
    "user.contact.url": "remove",
    "user.contact.organization": "remove",
    "user.contact.address": "remove",  # a whole address in one column
    "user.contact.address.street": "remove",
    "user.government_id": "remove",
    "user.financial": "remove",
    "user.payment": "remove",
    "user.unique_id": "remove",
    "user.account": "remove",
    "user.authorization": "remove",
    "user.biometric": "remove",
    "user.device": "remove",  # cookie, cookie_id, device_id, ip_address
    "user.content": "remove",  # free text and images
    "user.location.precise": "remove",
    "user.social": "remove",
    "user.behavior.search_history": "remove",  # what people type: names, addresses
    # quasi-identifiers, generalised
    "user.contact.address.postal_code": "postal_code",
    "user.demographic.date_of_birth": "year",
    # attributes kept (dates among them still become their year)
    "user.contact.address.city": "keep",
    "user.contact.address.state": "keep",
    "user.contact.address.country": "keep",
    "user.behavior": "keep",
    "user.demographic.age_range": "keep",
    "user.demographic.gender": "keep",
    "user.demographic.language": "keep",
    "user.location.imprecise": "keep",
    "user.privacy_preferences": "keep",
}
_STRICTNESS: dict[Treatment, int] = {"keep": 0, "year": 1, "postal_code": 2, "remove": 3}


def category_treatment(category: str) -> Treatment:
    """The treatment of one data category (longest matching prefix; unknown ones are removed)."""
    parts = category.split(".")
    for end in range(len(parts), 0, -1):
        found = TREATMENTS.get(".".join(parts[:end]))
        if found is not None:
            return found
    return "remove"


def treatment(f: Field, *, is_date: bool, is_text: bool) -> Treatment:
    """How anonymizing treats field ``f`` whose column is (or is not) a date and text column."""
    if f.identity:
        return "remove"
    chosen: Treatment = "keep"
    for category in f.categories:
        if not category.startswith("user"):
            continue
        found = category_treatment(category)
        if _STRICTNESS[found] > _STRICTNESS[chosen]:
            chosen = found
    # A generalisation needs a column it can be written in: a postal code is cut as text, a year
    # is a date; anything else is removed instead.
    if chosen == "postal_code" and not is_text:
        return "remove"
    if chosen == "year" and not is_date:
        return "remove"
    if chosen == "keep" and is_date:
        return "year"
    return chosen
