"""children's data held for a parent's consent, and the vault items a hold keeps unusable

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "child_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=True),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("parent_subject_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_ends", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "status IN ('held', 'released', 'refused', 'expired', 'isolated')",
            name=op.f("ck_child_holds_status"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_child_holds_subject_id_subjects")
        ),
        sa.ForeignKeyConstraint(
            ["parent_subject_id"],
            ["subjects.id"],
            name=op.f("fk_child_holds_parent_subject_id_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_holds")),
    )
    with op.batch_alter_table("child_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_child_holds_status_window", ["status", "window_ends"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_child_holds_subject_id"), ["subject_id"], unique=False)
    with op.batch_alter_table("vault_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_id", sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_vault_items_hold_id"), ["hold_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_vault_items_hold_id_child_holds"), "child_holds", ["hold_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("vault_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_vault_items_hold_id_child_holds"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_vault_items_hold_id"))
        batch_op.drop_column("hold_id")
    with op.batch_alter_table("child_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_child_holds_subject_id"))
        batch_op.drop_index("ix_child_holds_status_window")
    op.drop_table("child_holds")
