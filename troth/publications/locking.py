"""Load a publication for change, locked against a concurrent change until the commit."""

from __future__ import annotations

from sqlalchemy.orm import Session

from troth.store import take_sqlite_write_lock

from .errors import UnknownPublication
from .models import Publication


def locked(session: Session, publication_id: str) -> Publication:
    """The publication, or UnknownPublication. On PostgreSQL its row is locked (``FOR UPDATE``),
    on SQLite the database's write lock is taken first, so that two decisions at once are made
    one after the other and the second sees the first."""
    take_sqlite_write_lock(session, Publication.__tablename__)
    item = session.get(
        Publication,
        publication_id,
        with_for_update=session.get_bind().dialect.name == "postgresql",
        populate_existing=True,
    )
    if item is None:
        raise UnknownPublication(publication_id)
    return item
