"""Read the audit chain in ``seq`` order, a batch at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .chain import HASHED_FIELDS
from .models import AuditEvent

DEFAULT_BATCH = 1000

_COLUMNS = [getattr(AuditEvent, name) for name in (*HASHED_FIELDS, "hash")]


def stream_events(session: Session, batch_size: int = DEFAULT_BATCH) -> Iterator[dict[str, Any]]:
    """Every event as a dict of its hashed fields and ``hash``, in ``seq`` order.

    Reads ``batch_size`` rows per query (keyset pagination on ``seq``) as plain rows, not ORM
    objects, so memory stays flat however long the chain is.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    after: int | None = None
    while True:
        query = select(*_COLUMNS).order_by(AuditEvent.seq).limit(batch_size)
        if after is not None:
            query = query.where(AuditEvent.seq > after)
        rows = session.execute(query).mappings().all()
        for row in rows:
            yield dict(row)
        if len(rows) < batch_size:
            return
        after = rows[-1]["seq"]
