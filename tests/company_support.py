"""A company database for rights requests that reach into it (troth.datasets)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dataset_support import PORTAL, portal_metadata
from rights_support import REQUESTER
from sqlalchemy import Engine, create_engine, insert

__all__ = ["OTHER", "PORTAL", "portal_company"]

OTHER = "someone.else@example.in"


def portal_company(path: Path, *, logins: int = 3) -> Engine:
    """A SQLite database at ``path`` shaped like examples/kestrel/datasets/portal.yaml, with two
    customers: the requester (id 1) and someone else (id 2), ``logins`` logins each."""
    engine = create_engine(f"sqlite:///{path}")
    metadata = portal_metadata()
    metadata.create_all(engine)
    tables = metadata.tables
    with engine.begin() as conn:
        for n, email in ((1, REQUESTER), (2, OTHER)):
            conn.execute(
                insert(tables["customer"]),
                {
                    "id": n,
                    "email": email,
                    "name": f"Customer {n}",
                    "phone": "+91 98200 00000",
                    "created_at": datetime(2024, 1, 1),
                },
            )
            conn.execute(
                insert(tables["address"]),
                {"id": n, "customer_id": n, "street": "MG Road", "city": "Pune",
                 "postal_code": "411001"},
            )  # fmt: skip
            conn.execute(
                insert(tables["orders"]),
                [
                    {"id": 10 * n + i, "customer_id": n, "billing_name": f"Customer {n}",
                     "total_cents": 500, "created_at": at}
                    for i, at in enumerate((datetime(2016, 5, 1), datetime(2025, 5, 1)))
                ],
            )  # fmt: skip
            conn.execute(
                insert(tables["order_item"]),
                {"id": n, "order_id": 10 * n, "gift_message": "Happy birthday"},
            )
            conn.execute(
                insert(tables["payment_card"]),
                {"id": n, "customer_id": n, "holder": "C", "last4": "4242"},
            )
            conn.execute(
                insert(tables["login"]),
                [
                    {"id": 1_000_000 * n + i, "customer_id": n, "ip_address": "203.0.113.7",
                     "at": datetime(2026, 10, 1)}
                    for i in range(logins)
                ],
            )  # fmt: skip
            conn.execute(insert(tables["visit"]), {"id": n, "email": email, "page": "/pricing"})
    return engine
