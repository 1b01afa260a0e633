"""The company's clients as the vault knows them: a client's key, and the terms its items are
kept on (P17).

Data collected for a client (an end user of an application the company runs for it) is kept as
agreed with that client: under a rule with ``per_client_override: true`` the item's clock starts
at the client's event (``contract_ended``, :mod:`troth.vault.client_events`), and the client's
agreed period, if one was set (:mod:`troth.vault.client_overrides`), replaces the rule's.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.declaration import Policy
from troth.declaration.durations import Duration
from troth.declaration.model import KEY_MAX_LENGTH, KEY_PATTERN, RetentionRule

from .models import ClientEvent, ClientOverride
from .retention import ClientTerms

CLIENT_KEY = re.compile(rf"^{KEY_PATTERN}$")
CLIENT_KEY_HELP = (
    "is not a client key: lower-case letters, digits and '_', starting with a letter, parts "
    f"joined by '.' (acme_corp), at most {KEY_MAX_LENGTH} characters"
)


def client_key_problem(client: str) -> str | None:
    """What is wrong with ``client`` as a client's key, or None."""
    if len(client) > KEY_MAX_LENGTH or not CLIENT_KEY.match(client):
        return CLIENT_KEY_HELP
    return None


def client_terms(session: Session, client: str) -> ClientTerms:
    """The client's events so far (the latest time of each) and its agreed periods."""
    events: dict[str, datetime] = {}
    rows = session.execute(
        select(ClientEvent.event, ClientEvent.occurred_at).where(ClientEvent.client == client)
    )
    for event, occurred_at in rows:
        if event not in events or occurred_at > events[event]:
            events[event] = occurred_at
    periods = {
        rule: Duration.parse(period)
        for rule, period in session.execute(
            select(ClientOverride.rule, ClientOverride.period).where(
                ClientOverride.client == client
            )
        )
    }
    return ClientTerms(events, periods)


def client_rules(policy: Policy) -> list[RetentionRule]:
    """The declared rules that allow a per-client override, in declaration order."""
    return [rule for rule in policy.declaration.retention if rule.per_client_override]


def allows_override(policy: Policy, rule: str) -> bool:
    """Whether the declaration in force lets clients agree their own period for ``rule``; a
    period agreed under an earlier declaration is kept, but applied only while this holds."""
    return any(declared.key == rule for declared in client_rules(policy))
