"""What kind of value a live database column holds, in the terms a dataset file uses.

Reflection gives each column a SQLAlchemy type that depends on the database (``VARCHAR(80)``,
``TEXT``, ``CITEXT``, ``TINYINT``...). Scaffolding and checking both need the same coarse answer:
is it text, a whole number, a number with a fraction, a truth value, a date or time, bytes or a
UUID. A column whose type reflection does not recognise has no kind (None): troth cannot say how
to erase it, so a personal field on it is an error unless the dataset declares its type.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import types

Kind = Literal["string", "integer", "float", "boolean", "datetime", "binary", "uuid"]

# Fides' data_type names (fideslang.validation.DATA_TYPE_NAMES) that a SQL column can have, and
# the kinds of live column each may describe. A boolean is often a small integer (MySQL's BOOL).
FIDES_TYPES: dict[str, frozenset[Kind]] = {
    "string": frozenset({"string", "uuid"}),
    "integer": frozenset({"integer"}),
    "float": frozenset({"float", "integer"}),
    "boolean": frozenset({"boolean", "integer"}),
}


def column_kind(column_type: Any) -> Kind | None:
    """The kind of a reflected column type, or None when it is not recognisable."""
    # Order matters: Enum is a String, Float a Numeric, DateTime and Date are separate classes.
    if isinstance(column_type, types.Boolean):
        return "boolean"
    if isinstance(column_type, types.Uuid):
        return "uuid"
    if isinstance(column_type, types.String):
        return "string"
    if isinstance(column_type, types.Integer):
        return "integer"
    if isinstance(column_type, types.Numeric):
        return "float"
    if isinstance(column_type, types.DateTime | types.Date | types.Time):
        return "datetime"
    if isinstance(column_type, types._Binary):
        return "binary"
    return None


def fides_type(kind: Kind | None) -> str | None:
    """The Fides data_type for a kind of column; None for dates, times, bytes and UUIDs, which
    Fides has no name for."""
    if kind in ("string", "integer", "float", "boolean"):
        return kind
    return None


def text_length(column_type: Any) -> int | None:
    """The declared length of a text column (``VARCHAR(80)`` is 80), None when unbounded."""
    length = getattr(column_type, "length", None)
    return length if isinstance(length, int) else None
