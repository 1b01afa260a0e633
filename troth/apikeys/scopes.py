"""The scopes an API key can be granted: each one a kind of call a server may make."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

SCOPES: Mapping[str, str] = MappingProxyType(
    {
        "consent:read": "Read consent state, its history and consent receipts.",
        "consent:write": "Record and withdraw consent; link identities to a subject.",
        "data:read": (
            "Read a subject's collected data for a named purpose, as the key's staff role "
            "allows (needs --role)."
        ),
        "decide": 'Ask whether a purpose is allowed for a subject ("may I?").',
        "subjects:read": "Look up data subjects by identity.",
        "vault:write": "Collect personal data into the vault; record events that start "
        "retention clocks.",
        "publications:read": "List the approved testimonials, case studies and portfolio items.",
        "publications:write": (
            "Draft testimonials, case studies and portfolio items for the person's review; "
            "withdraw them on request."
        ),
        "requests:read": "Read rights requests, their deadlines and timelines; list the queue.",
        "requests:write": "Take in rights requests and record that a requester was verified.",
        "retention:read": "List legal holds and the retention periods agreed with clients.",
        "retention:write": (
            "Place and lift legal holds that suspend deletion; set and clear the retention "
            "periods agreed with clients."
        ),
    }
)


class UnknownScope(ValueError):
    """A scope that troth does not know; the message lists the ones it does."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(f"unknown scope {scope!r}; the scopes are {', '.join(SCOPES)}")


def checked_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes, each known, without repeats, in the registry's order.

    Raises :class:`UnknownScope` for the first unknown one, and :class:`ValueError` when there
    are none (a key without scopes could call nothing but ``whoami``).
    """
    wanted = list(scopes)
    for scope in wanted:
        if scope not in SCOPES:
            raise UnknownScope(scope)
    if not wanted:
        raise ValueError(f"an API key needs at least one scope; the scopes are {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in wanted]
