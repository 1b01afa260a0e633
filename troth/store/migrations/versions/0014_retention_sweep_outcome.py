"""retention sweeps: how each run ended (finished, failed, interrupted)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
    op.execute("UPDATE retention_sweeps SET outcome = 'finished' WHERE finished_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("retention_sweeps", schema=None) as batch_op:
        batch_op.drop_column("outcome")
