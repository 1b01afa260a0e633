"""retention: legal holds, anonymised aggregates, sweep runs; clients' events and agreed
periods; vault items' client and isolation

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "scope IN ('subject', 'client', 'category', 'dataset')",
            name=op.f("ck_legal_holds_scope"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index("ix_legal_holds_lifted_until", ["lifted_at", "until"], unique=False)
    op.create_table(
        "retention_aggregates",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_aggregates")),
        sa.UniqueConstraint(
            "source", "rule", "category", "purpose", "month", name="uq_retention_aggregates_key"
        ),
    )
    op.create_table(
        "retention_sweeps",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_sweeps")),
    )
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_retention_sweeps_started_at"), ["started_at"], unique=False
        )
    op.create_table(
        "client_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_events")),
    )
    with op.batch_alter_table("client_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_events_client"), ["client"], unique=False)
    op.create_table(
        "client_overrides",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=40), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_overrides")),
        sa.UniqueConstraint("client", "rule", name="uq_client_overrides_client_rule"),
    )
    with op.batch_alter_table("vault_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("isolated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_vault_items_client_waiting", ["client", "waiting_for"], unique=False
        )
        batch_op.create_index(
            "ix_vault_items_rule_until", ["retention_rule", "retain_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("vault_items", schema=None) as batch_op:
        batch_op.drop_index("ix_vault_items_rule_until")
        batch_op.drop_index("ix_vault_items_client_waiting")
        batch_op.drop_column("isolated_at")
        batch_op.drop_column("client")
    op.drop_table("client_overrides")
    with op.batch_alter_table("client_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_events_client"))
    op.drop_table("client_events")
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_sweeps_started_at"))
    op.drop_table("retention_sweeps")
    op.drop_table("retention_aggregates")
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_legal_holds_lifted_until")
    op.drop_table("legal_holds")
