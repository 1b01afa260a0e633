"""The keyed hash that erasure's ``hash`` mask writes over a company database's value.

``h:`` and 64 hex digits of HMAC-SHA256 under a subkey of the master key: the same input gives the
same output, so masked rows can still be counted and joined, but not read back. A value already
in that form is never hashed again, which keeps a repeated erasure from changing anything. On
PostgreSQL the hash is computed in SQL (:func:`sql_keyed_hash`) and gives exactly the same value.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, func, literal

HASH_PREFIX = "h:"
HASH_LENGTH = len(HASH_PREFIX) + 64
HASH_PATTERN = "^h:[0-9a-f]{64}$"


def keyed_hash(key: bytes, value: Any) -> str:
    """The keyed hash that replaces a value masked with ``hash``: same input, same output, so
    masked rows can still be counted and joined, but not read back."""
    digest = hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest


def is_keyed_hash(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == HASH_LENGTH
        and value.startswith(HASH_PREFIX)
        and all(c in "0123456789abcdef" for c in value[len(HASH_PREFIX) :])
    )


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys (RFC 2104), for computing it in SQL."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def sql_keyed_hash(column: Any, key: bytes) -> ColumnElement[str]:
    """:func:`keyed_hash` of a text column as a PostgreSQL expression (``sha256`` is built in
    from PostgreSQL 11): ``'h:' || hex(sha256(outer || sha256(inner || utf8(value))))``."""
    inner, outer = hmac_pads(key)
    message = func.convert_to(column, "UTF8")
    first = func.sha256(literal(inner, LargeBinary).op("||")(message))
    digest = func.sha256(literal(outer, LargeBinary).op("||")(first))
    return literal(HASH_PREFIX).op("||")(func.encode(digest, "hex"))
