"""rights requests, their timeline, steps, recipient tasks and reminders; durable jobs

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'running', 'done', 'failed')", name=op.f("ck_jobs_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_state_run_after", "jobs", ["state", "run_after"], unique=False)
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("acting_as", sa.String(length=16), nullable=False),
        sa.Column("jurisdiction", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledge_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("original_complete_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extended", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verification_method", sa.String(length=40), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requester", sa.LargeBinary(), nullable=False),
        sa.Column("proposed", sa.LargeBinary(), nullable=True),
        sa.Column("reasons", sa.LargeBinary(), nullable=True),
        sa.Column("bundle", sa.LargeBinary(), nullable=True),
        sa.Column("bundle_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "acting_as IN ('self', 'parent', 'nominee')", name=op.f("ck_rights_requests_acting_as")
        ),
        sa.CheckConstraint(
            "state IN ('received', 'verified', 'in_review', 'approved', 'denied', 'executing', "
            "'completed')",
            name=op.f("ck_rights_requests_state"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_rights_requests_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_requests")),
    )
    op.create_index(
        "ix_rights_requests_state_complete_by",
        "rights_requests",
        ["state", "complete_by"],
        unique=False,
    )
    op.create_index(
        op.f("ix_rights_requests_subject_id"), "rights_requests", ["subject_id"], unique=False
    )
    op.create_table(
        "rights_deadline_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("deadline", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_deadline_reminders_request_id_rights_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_deadline_reminders")),
        sa.UniqueConstraint(
            "request_id", "deadline", "due_at", name="uq_rights_deadline_reminders"
        ),
    )
    op.create_table(
        "rights_recipient_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "state IN ('open', 'done')", name=op.f("ck_rights_recipient_tasks_state")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_recipient_tasks_request_id_rights_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_recipient_tasks")),
        sa.UniqueConstraint("request_id", "recipient", name="uq_rights_recipient_tasks"),
    )
    op.create_index(
        op.f("ix_rights_recipient_tasks_request_id"),
        "rights_recipient_tasks",
        ["request_id"],
        unique=False,
    )
    op.create_table(
        "rights_request_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=60), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_request_steps_request_id_rights_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request_steps")),
        sa.UniqueConstraint("request_id", "step", name="uq_rights_request_steps"),
    )
    op.create_table(
        "rights_request_timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["rights_requests.id"],
            name=op.f("fk_rights_request_timeline_request_id_rights_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request_timeline")),
    )
    op.create_index(
        op.f("ix_rights_request_timeline_request_id"),
        "rights_request_timeline",
        ["request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_rights_request_timeline_request_id"), table_name="rights_request_timeline"
    )
    op.drop_table("rights_request_timeline")
    op.drop_table("rights_request_steps")
    op.drop_index(op.f("ix_rights_recipient_tasks_request_id"), table_name="rights_recipient_tasks")
    op.drop_table("rights_recipient_tasks")
    op.drop_table("rights_deadline_reminders")
    op.drop_index(op.f("ix_rights_requests_subject_id"), table_name="rights_requests")
    op.drop_index("ix_rights_requests_state_complete_by", table_name="rights_requests")
    op.drop_table("rights_requests")
    op.drop_index("ix_jobs_state_run_after", table_name="jobs")
    op.drop_table("jobs")
