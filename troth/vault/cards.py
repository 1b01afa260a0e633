"""Payment card numbers in free text, found so that they are never stored (P3).

A card number is a run of 13 to 19 digits, written together or in groups separated by single
spaces or dashes, that passes the Luhn check. A run written after ``+`` is an international
phone number, not a card, and is left alone. The finder returns where a number is, never the
number: callers report the field, not its value.
"""

from __future__ import annotations

import re

MIN_DIGITS = 13
MAX_DIGITS = 19

# Digits joined by at most one space or dash, not touching other digits; the leading ``+`` is
# matched so that a phone number's run is taken whole and then skipped.
_RUN = re.compile(r"(?<!\d)\+?\d(?:[ -]?\d)*(?!\d)")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)  # any Unicode decimal digit: fullwidth ４ is 4
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def has_card_number(text: str) -> bool:
    """Whether ``text`` holds anything that reads as a payment card number."""
    if len(text) < MIN_DIGITS:
        return False
    for match in _RUN.finditer(text):
        if match.group().startswith("+"):
            continue
        digits = match.group().replace(" ", "").replace("-", "")
        if MIN_DIGITS <= len(digits) <= MAX_DIGITS and luhn_valid(digits):
            return True
    return False
