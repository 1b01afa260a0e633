"""How old a submission says its person is: a date of birth, or a stated age (P29).

Two categories carry an age, and custom categories under them count as they do:

- ``user.demographic.date_of_birth`` (Fides): an ISO date, ``2016-04-09``. The age is the
  number of birthdays reached on the collection date.
- ``user.demographic.age_range`` (Fides: "non specific age or age range"): a whole number of
  years (``10``) or a range of them (``8-12``). A range counts as its lowest age: someone who
  says they are 16 to 20 may be 16, and is treated as a child where 18 is the threshold.

A value that is neither is refused (its field named, the value never repeated): an age troth
cannot read could be a child's, and a child's data is not stored on a guess.
"""

from __future__ import annotations

import re
from datetime import date

from troth.declaration.taxonomy import is_under

DATE_OF_BIRTH = "user.demographic.date_of_birth"
AGE_RANGE = "user.demographic.age_range"
MAX_AGE = 150
_YEARS = re.compile(r"\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?")
_ISO_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")


class UnreadableAge(ValueError):
    """The value of an age field cannot be read; the message says what is expected."""


def carries_age(category: str) -> bool:
    return is_under(category, DATE_OF_BIRTH) or is_under(category, AGE_RANGE)


def age_on(born: date, on: date) -> int:
    """Whole years from ``born`` to ``on`` (a birthday on 29 February counts from 1 March)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def stated_age(category: str, value: str, on: date) -> int:
    """The (lowest) age ``value`` gives for a field of ``category``, on the date ``on``.

    Raises :class:`UnreadableAge`, whose message never repeats the value.
    """
    if is_under(category, DATE_OF_BIRTH):
        if not _ISO_DATE.fullmatch(value):
            raise UnreadableAge("expected a date of birth as an ISO date, such as 2016-04-09")
        try:
            born = date.fromisoformat(value.strip())
        except ValueError:
            raise UnreadableAge("is not a real date; expected one such as 2016-04-09") from None
        if born > on:
            raise UnreadableAge("is a date of birth in the future")
        return age_on(born, on)
    match = _YEARS.fullmatch(value)
    if match is None:
        raise UnreadableAge("expected an age in whole years (10) or a range of them (8-12)")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if high < low or high > MAX_AGE:
        raise UnreadableAge(f"expected an age range from low to high, at most {MAX_AGE}")
    return low
