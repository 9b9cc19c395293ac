"""workflow: moderation decisions, quality control (checklists, queue, reviews), call scripts and their runs

Revision ID: 0006q
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0006q"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workflow_settings",
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_workflow_settings")),
    )
    op.create_table(
        "moderation_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["inquiry_id"], ["inquiries.id"],
                                name=op.f("fk_moderation_decisions_inquiry_id_inquiries"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_moderation_decisions_actor_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_decisions")),
    )
    op.create_index(op.f("ix_moderation_decisions_inquiry_id"), "moderation_decisions", ["inquiry_id"])
    op.create_index("ix_moderation_decisions_decision_at", "moderation_decisions", ["decision", "at"])
    op.create_table(
        "qc_checklists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_checklists")),
    )
    op.create_table(
        "qc_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("checklist_id", sa.Integer(), nullable=True),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("marks", sa.JSON(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("reopened", sa.Boolean(), nullable=False),
        sa.Column("reviewed_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["inquiry_id"], ["inquiries.id"], name=op.f("fk_qc_items_inquiry_id_inquiries"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_qc_items_call_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_qc_items_agent_id_users")),
        sa.ForeignKeyConstraint(["checklist_id"], ["qc_checklists.id"],
                                name=op.f("fk_qc_items_checklist_id_qc_checklists"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name=op.f("fk_qc_items_reviewer_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_items")),
        sa.UniqueConstraint("inquiry_id", name=op.f("uq_qc_items_inquiry_id")),
        sa.UniqueConstraint("call_id", name=op.f("uq_qc_items_call_id")),
    )
    op.create_index(op.f("ix_qc_items_agent_id"), "qc_items", ["agent_id"])
    op.create_index(op.f("ix_qc_items_reviewed_at"), "qc_items", ["reviewed_at"])
    op.create_index("ix_qc_items_status_created", "qc_items", ["status", "created_at"])
    op.create_table(
        "call_scripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_scripts")),
    )
    op.create_table(
        "script_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=True),
        sa.Column("script_name", sa.String(length=200), nullable=False),
        sa.Column("inquiry_id", sa.Integer(), nullable=True),
        sa.Column("linkedid", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("attached_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["script_id"], ["call_scripts.id"], name=op.f("fk_script_runs_script_id_call_scripts"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["inquiry_id"], ["inquiries.id"], name=op.f("fk_script_runs_inquiry_id_inquiries"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_script_runs_agent_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_runs")),
    )
    op.create_index(op.f("ix_script_runs_inquiry_id"), "script_runs", ["inquiry_id"])
    op.create_index(op.f("ix_script_runs_linkedid"), "script_runs", ["linkedid"])


def downgrade() -> None:
    op.drop_table("script_runs")
    op.drop_table("call_scripts")
    op.drop_table("qc_items")
    op.drop_table("qc_checklists")
    op.drop_table("moderation_decisions")
    op.drop_table("workflow_settings")
