"""The Kestrel portal database (examples/kestrel/datasets/portal.yaml) as tables, for tests."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
)
from support import ROOT

PORTAL = ROOT / "examples" / "kestrel" / "datasets" / "portal.yaml"


def portal_metadata() -> MetaData:
    """The portal's tables: integer primary keys, foreign keys as the dataset's references."""
    metadata = MetaData()

    def customer_id() -> Column[int]:
        return Column("customer_id", Integer, ForeignKey("customer.id"), nullable=False)

    Table(
        "customer",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(255)),
        Column("name", String(200)),
        Column("phone", String(40)),
        Column("created_at", DateTime, nullable=False),
    )
    Table(
        "address",
        metadata,
        Column("id", Integer, primary_key=True),
        customer_id(),
        Column("street", String(200)),
        Column("city", String(100)),
        Column("postal_code", String(20)),
    )
    Table(
        "orders",
        metadata,
        Column("id", Integer, primary_key=True),
        customer_id(),
        Column("billing_name", String(200)),
        Column("total_cents", Integer, nullable=False),
        # the clock of financial_records: a sweep finds expired orders through this index
        Column("created_at", DateTime, nullable=False, index=True),
    )
    Table(
        "order_item",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
        Column("gift_message", String(500)),
    )
    Table(
        "payment_card",
        metadata,
        Column("id", Integer, primary_key=True),
        customer_id(),
        Column("holder", String(200)),
        Column("last4", String(4)),
    )
    Table(
        "login",
        metadata,
        Column("id", Integer, primary_key=True),
        customer_id(),
        Column("ip_address", String(80)),
        Column("at", DateTime),
    )
    Table(
        "visit",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(255)),
        Column("page", String(500)),
    )
    return metadata


def create_portal_schema(engine: Engine) -> None:
    """Create the portal's tables (empty) in the database behind ``engine``."""
    portal_metadata().create_all(engine)
