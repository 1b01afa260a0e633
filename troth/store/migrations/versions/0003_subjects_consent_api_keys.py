"""subjects, identities, consent ledger, api keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# 64-bit on PostgreSQL; SQLite's INTEGER PRIMARY KEY is already 64-bit (and must stay INTEGER).
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_keys_secret_hash")),
    )
    op.create_table(
        "consent_changes",
        sa.Column("seq", BIG_ID, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_consent_changes")),
    )
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_changes_changed_at"), ["changed_at"], unique=False
        )

    op.create_table(
        "consent_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("notice_hash", sa.String(length=64), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("collection_point", sa.String(length=500), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("acted_by", sa.String(length=16), nullable=False),
        sa.Column("actor_ref", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "acted_by IN ('subject', 'parent', 'nominee')", name=op.f("ck_consent_events_acted_by")
        ),
        sa.CheckConstraint(
            "method IN ('web_form', 'cookie_banner', 'api', 'email_link', "
            "'global_privacy_control', 'staff')",
            name=op.f("ck_consent_events_method"),
        ),
        sa.CheckConstraint(
            "state IN ('given', 'refused', 'withdrawn', 'expired')",
            name=op.f("ck_consent_events_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
        sa.UniqueConstraint("record_id", name=op.f("uq_consent_events_record_id")),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_events_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "consent_renewals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("required_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_renewals")),
    )
    op.create_table(
        "subject_signals",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "kind IN ('restriction', 'objection', 'gpc_opt_out', 'child')",
            name=op.f("ck_subject_signals_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_signals")),
    )
    with op.batch_alter_table("subject_signals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_signals_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "subjects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("merged_into", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["subjects.id"], name=op.f("fk_subjects_merged_into_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
    )
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subjects_merged_into"), ["merged_into"], unique=False)

    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_identities_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("lookup", name="uq_identities_lookup"),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identities_subject_id"), ["subject_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_subject_id"))

    op.drop_table("identities")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subjects_merged_into"))

    op.drop_table("subjects")
    with op.batch_alter_table("subject_signals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_signals_subject_id"))

    op.drop_table("subject_signals")
    op.drop_table("consent_renewals")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_events_subject_id"))

    op.drop_table("consent_events")
    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_changes_changed_at"))

    op.drop_table("consent_changes")
    op.drop_table("api_keys")
