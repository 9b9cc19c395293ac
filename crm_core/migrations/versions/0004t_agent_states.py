"""agent state spans

Revision ID: 0004t
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0004t"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_state_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("started_at", crm_core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", crm_core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_agent_state_spans_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_spans")),
    )
    op.create_index("ix_agent_state_spans_user_started", "agent_state_spans", ["user_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_agent_state_spans_user_started", table_name="agent_state_spans")
    op.drop_table("agent_state_spans")
