"""consent_changes: one row per write, listing the subjects it changed

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Each database's own way to make a one-element JSON array of a column's text.
_ARRAY_OF = {"sqlite": "json_array({})", "postgresql": "json_build_array({})"}


def upgrade() -> None:
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_ids", sa.JSON(), nullable=True))
    # Rows already in the feed keep their meaning: one subject, or (empty) every subject. A
    # process still running the previous version fails to read the new feed, and its cache then
    # empties itself rather than answer from stale entries.
    array = _ARRAY_OF[op.get_bind().dialect.name].format("subject_id")
    op.execute(f"UPDATE consent_changes SET subject_ids = {array} WHERE subject_id IS NOT NULL")
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.drop_column("subject_id")


def downgrade() -> None:
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_id", sa.String(length=36), nullable=True))
    # A row naming several subjects cannot go back into one column: the earlier feed's "every
    # subject" (empty) is the safe reading of it, as caches then forget everything.
    single = {
        "sqlite": "json_extract(subject_ids, '$[0]')",
        "postgresql": "subject_ids ->> 0",
    }[op.get_bind().dialect.name]
    op.execute(
        f"UPDATE consent_changes SET subject_id = {single} "
        "WHERE subject_ids IS NOT NULL AND json_array_length(subject_ids) = 1"
    )
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.drop_column("subject_ids")
