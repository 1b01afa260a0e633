"""Load a hold for change, locked against a concurrent answer or sweep until the commit."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from troth.store import take_sqlite_write_lock
from troth.vault.models import ChildHold, VaultItem


def locked_hold(session: Session, hold_id: str) -> ChildHold | None:
    """The hold, row-locked on PostgreSQL (``FOR UPDATE``); on SQLite the database's write lock
    is taken first. Two answers at once (or an answer and the sweep) are made one after the
    other, and the second sees what the first did."""
    take_sqlite_write_lock(session, ChildHold.__tablename__)
    return session.get(
        ChildHold,
        hold_id,
        with_for_update=session.get_bind().dialect.name == "postgresql",
        populate_existing=True,
    )


def held_count(session: Session, hold_id: str) -> int:
    count = session.scalar(
        select(func.count()).select_from(VaultItem).where(VaultItem.hold_id == hold_id)
    )
    return int(count or 0)


def delete_held_items(session: Session, hold_id: str) -> int:
    """Delete the items a hold keeps; how many there were."""
    count = held_count(session, hold_id)
    session.execute(delete(VaultItem).where(VaultItem.hold_id == hold_id))
    return count
