"""Export the audit chain as JSON lines, one event per line, in ``seq`` order."""

from __future__ import annotations

import json
from typing import TextIO

from sqlalchemy.orm import Session

from .chain import timestamp
from .reading import DEFAULT_BATCH, stream_events


def export_events(session: Session, stream: TextIO, batch_size: int = DEFAULT_BATCH) -> int:
    """Write every event to ``stream`` as one JSON object per line; return how many.

    Each line holds, in this order, ``seq``, ``occurred_at`` (canonical UTC text), ``actor_kind``,
    ``actor_id``, ``action``, ``subject_id``, ``policy_version``, ``details``, ``prev_hash`` and
    ``hash``: everything needed to re-compute the chain without troth
    (:func:`troth.audit.chain.event_hash` on a parsed line gives its ``hash``).
    """
    count = 0
    for event in stream_events(session, batch_size):
        event["occurred_at"] = timestamp(event["occurred_at"])
        stream.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count
