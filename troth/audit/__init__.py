"""The audit trail: an append-only, hash-chained log of every state change in troth.

Owns the ``audit_events`` table. A service records its event with :func:`record_event` in the
same transaction as the change it describes; :func:`verify_chain` re-computes the chain;
:func:`export_events` writes it as JSON lines. See docs/audit.md.
"""

from .chain import GENESIS_HASH, event_hash
from .export import export_events
from .models import ActorKind, AuditEvent
from .record import Actor, record_event
from .search import EventPage, EventQuery, search_events
from .verify import VerifyResult, verify_chain

__all__ = [
    "GENESIS_HASH",
    "Actor",
    "ActorKind",
    "AuditEvent",
    "EventPage",
    "EventQuery",
    "VerifyResult",
    "event_hash",
    "export_events",
    "record_event",
    "search_events",
    "verify_chain",
]
