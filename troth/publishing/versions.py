"""Record and look up published policy versions.

A version is identified by the content hash of its declaration. Publishing the same declaration
twice changes nothing; publishing different content under a version string already used is
refused, because a published text must never change in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.declaration import Policy
from troth.declaration.render import render_html_fragment, render_markdown
from troth.store import make_sessionmaker, session_scope, upgrade

from .models import PolicyVersion

# Who records versions when no caller says otherwise: troth itself (`troth serve`, `publish`).
PUBLISHER = Actor.system("troth.publishing")
OnRecorded = Callable[[Session, str | None, str | None, Policy, datetime], object]

_NEWEST_FIRST = (
    PolicyVersion.effective_date.desc(),
    PolicyVersion.recorded_at.desc(),
    PolicyVersion.id.desc(),
)


class VersionConflict(Exception):
    """A version string was already published with different content."""

    def __init__(self, version: str, existing_hash: str, new_hash: str):
        self.version = version
        self.existing_hash = existing_hash
        self.new_hash = new_hash
        super().__init__(
            f"version {version} was already published with different content "
            f"(hash {existing_hash[:12]}…); give the changed declaration a new policy.version"
        )


@dataclass(frozen=True)
class VersionInHistory:
    """A published version, the version that replaced it (if any) and the newest one."""

    version: PolicyVersion
    superseded_by: PolicyVersion | None
    current: PolicyVersion

    @property
    def is_current(self) -> bool:
        return self.version.id == self.current.id


def record_version(
    session: Session, policy: Policy, now: datetime, *, actor: Actor = PUBLISHER
) -> tuple[PolicyVersion, bool]:
    """Store ``policy`` as a published version; ``created`` is False when it already was.

    A new version writes the audit event ``policy.version_recorded`` in the same transaction.
    Raises :class:`VersionConflict` when ``policy.version`` was published with other content.
    The caller commits.
    """
    if now.tzinfo is None:
        raise ValueError("record_version needs a timezone-aware 'now'")
    existing = _find(session, policy)
    if existing is not None:
        return existing, False
    row = PolicyVersion(
        version=policy.version,
        effective_date=policy.effective_date,
        content_hash=policy.content_hash,
        organization=policy.organization_name,
        declaration_yaml=policy.source_text,
        rendered_markdown=render_markdown(policy),
        rendered_html=render_html_fragment(policy),
        recorded_at=now,
    )
    try:
        # A savepoint: if another process recorded the same version meanwhile, only this
        # insert is undone, not the caller's transaction.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = _find(session, policy)
        if existing is None:
            raise
        return existing, False
    record_event(
        session,
        actor=actor,
        action="policy.version_recorded",
        policy_version=row.version,
        details={"version": row.version, "content_hash": row.content_hash},
        now=now,
    )
    return row, True


def _find(session: Session, policy: Policy) -> PolicyVersion | None:
    """The row for this exact content, or a conflict if its version string holds other content."""
    by_hash = session.scalar(
        select(PolicyVersion).where(PolicyVersion.content_hash == policy.content_hash)
    )
    if by_hash is not None:
        return by_hash
    same_version = get_version(session, policy.version)
    if same_version is not None:
        raise VersionConflict(policy.version, same_version.content_hash, policy.content_hash)
    return None


def list_versions(session: Session) -> list[PolicyVersion]:
    """Every published version, newest effective date first (ties: most recently recorded)."""
    return list(session.scalars(select(PolicyVersion).order_by(*_NEWEST_FIRST)))


def get_version(session: Session, version: str) -> PolicyVersion | None:
    return session.scalar(select(PolicyVersion).where(PolicyVersion.version == version))


def current_version(session: Session) -> PolicyVersion | None:
    """The version with the newest effective date, or None before anything was published."""
    return session.scalar(select(PolicyVersion).order_by(*_NEWEST_FIRST).limit(1))


def locate_version(session: Session, version: str) -> VersionInHistory | None:
    """A version with its place in the history, or None if it was never published."""
    history = list_versions(session)
    for index, row in enumerate(history):
        if row.version == version:
            newer = history[index - 1] if index > 0 else None
            return VersionInHistory(version=row, superseded_by=newer, current=history[0])
    return None


def publish(
    engine: Engine,
    policies: Sequence[Policy],
    now: datetime,
    *,
    actor: Actor = PUBLISHER,
    on_recorded: OnRecorded | None = None,
) -> list[tuple[PolicyVersion, bool]]:
    """Migrate the database, then record each policy in the order given, all or nothing.

    ``on_recorded(session, previous_yaml, previous_version, policy, now)`` runs in the same
    transaction after each newly recorded version, with the declaration of the version that
    was current before it (consent renewal after a material change hooks in here).

    Returns ``(version, created)`` per policy; raises :class:`VersionConflict` (and records
    none of them, nor their audit events) if any one conflicts with the history.
    """
    upgrade(engine)
    results = []
    with session_scope(make_sessionmaker(engine)) as session:
        for policy in policies:
            before = current_version(session)
            row, created = record_version(session, policy, now, actor=actor)
            if created and on_recorded is not None:
                on_recorded(
                    session,
                    before.declaration_yaml if before else None,
                    before.version if before else None,
                    policy,
                    now,
                )
            results.append((row, created))
    return results
