"""The hash chain: the canonical form of an event and its SHA-256.

An event's hash is SHA-256 (hex) over the UTF-8 bytes of this canonical JSON object::

    {"action", "actor_id", "actor_kind", "details", "occurred_at", "policy_version",
     "prev_hash", "seq", "subject_id"}

keys sorted, no whitespace (separators ``,`` and ``:``), non-ASCII characters as themselves,
``occurred_at`` in UTC as ISO 8601 with microseconds (``2026-11-01T09:30:00.000000+00:00``).
The first event's ``prev_hash`` is 64 zeros. Anyone can re-compute the chain from an export with
these few lines, without troth.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# The fields an event's hash covers, in the order exports list them.
HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "action",
    "subject_id",
    "policy_version",
    "details",
    "prev_hash",
)


def timestamp(moment: datetime) -> str:
    """The canonical text of an event time: UTC, ISO 8601, always with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same value always gives the same text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def event_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event's canonical form; ``fields`` holds :data:`HASHED_FIELDS`.

    ``occurred_at`` may be a datetime or its canonical text (as in an export).
    """
    content = {name: fields[name] for name in HASHED_FIELDS}
    if isinstance(content["occurred_at"], datetime):
        content["occurred_at"] = timestamp(content["occurred_at"])
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
