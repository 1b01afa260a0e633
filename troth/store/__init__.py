"""Database engine and sessions, the shared declarative base, and migrations (Alembic)."""

from .base import Base
from .db import (
    DatabaseURLError,
    display_url,
    downgrade,
    make_engine,
    make_sessionmaker,
    parse_url,
    ping,
    session_scope,
    take_sqlite_write_lock,
    upgrade,
    write_scope,
)
from .types import UTCDateTime

__all__ = [
    "Base",
    "DatabaseURLError",
    "UTCDateTime",
    "display_url",
    "downgrade",
    "make_engine",
    "make_sessionmaker",
    "parse_url",
    "ping",
    "session_scope",
    "take_sqlite_write_lock",
    "upgrade",
    "write_scope",
]
