"""What the retention tests share: people who wrote in through the contact form (the Kestrel
``inquiries`` rule: one year after their last activity), clients' project data (``project_data``:
isolated five years after the project is completed), a policy whose rule acts otherwise, and a
snapshot of the vault to compare two runs by."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from consent_support import NOW, STAFF
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import dump, item, kestrel_data, read
from vault_support import CONTACT_FORM, submit

from troth.declaration import Policy
from troth.retention import RetentionAggregate
from troth.subjects import Keyring
from troth.vault import VaultItem, record_subject_event

DAY = timedelta(days=1)
YEAR_AFTER = NOW.replace(year=NOW.year + 1)


def email(n: int) -> str:
    return f"writer{n}@example.in"


def inquiry(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    n: int,
    *,
    active: datetime = NOW,
    fields: list[dict[str, str]] | None = None,
) -> str:
    """Person ``n`` writes in at ``active`` (their last activity): due a year later."""
    result = submit(session, policy, keyring, fields, identity=("email", email(n)), now=active)
    record_subject_event(
        session,
        policy,
        subject_id=result.subject_id,
        event="last_activity",
        occurred_at=active,
        now=active,
        actor=STAFF,
    )
    return result.subject_id


def project(
    session: Session, policy: Policy, keyring: Keyring, n: int, *, completed: datetime = NOW
) -> str:
    """Client ``n``'s project data, the project completed at ``completed``: isolated 5 years on."""
    result = submit(
        session,
        policy,
        keyring,
        CONTACT_FORM[:2],
        identity=("email", f"client{n}@example.in"),
        source="client_signup",
        purpose="deliver_projects",
        now=completed,
    )
    record_subject_event(
        session,
        policy,
        subject_id=result.subject_id,
        event="project_completed",
        occurred_at=completed,
        now=completed,
        actor=STAFF,
    )
    return result.subject_id


def with_rule(key: str, **changes: Any) -> Policy:
    """The Kestrel example with one retention rule changed (still a valid declaration)."""
    data = kestrel_data()
    rule = item(data, "retention", key)
    for name, value in changes.items():
        rule[name] = value
    policy, problems = read(dump(data))
    assert policy is not None, problems
    return policy


def vault_rows(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    """Every vault item by what does not depend on random ids, in a stable order."""
    with sessions() as session:
        rows = session.execute(
            select(
                VaultItem.category,
                VaultItem.retention_rule,
                VaultItem.collected_at,
                VaultItem.retain_until,
                VaultItem.isolated_at,
            )
        ).all()
    return sorted(tuple(row) for row in rows)


def aggregates(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, str, str, int]]:
    with sessions() as session:
        found = session.scalars(select(RetentionAggregate))
        return sorted((a.source, a.rule, a.category, a.purpose, a.month, a.count) for a in found)
