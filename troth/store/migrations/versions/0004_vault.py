"""vault items and subject events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# 64-bit on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit (and must stay INTEGER).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_items",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("collection_point", sa.String(length=500), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("retention_rule", sa.String(length=200), nullable=False),
        sa.Column("retain_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_for", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_vault_items_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vault_items")),
        sa.UniqueConstraint("submission_id", "position", name="uq_vault_items_submission_position"),
    )
    with op.batch_alter_table("vault_items", schema=None) as batch_op:
        batch_op.create_index("ix_vault_items_retain_until", ["retain_until"], unique=False)
        batch_op.create_index(
            "ix_vault_items_subject_waiting", ["subject_id", "waiting_for"], unique=False
        )

    op.create_table(
        "subject_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_subject_events_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_events")),
    )
    with op.batch_alter_table("subject_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_events_subject_id"), ["subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_events_subject_id"))
    op.drop_table("subject_events")
    with op.batch_alter_table("vault_items", schema=None) as batch_op:
        batch_op.drop_index("ix_vault_items_subject_waiting")
        batch_op.drop_index("ix_vault_items_retain_until")
    op.drop_table("vault_items")
