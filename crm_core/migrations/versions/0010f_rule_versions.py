"""Versions of the routing rules: every published set and the drafts (routing_rule_versions)

Revision ID: 0010f
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0010f"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "routing_rule_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_routing_rule_versions_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rule_versions")),
    )
    op.create_index("ix_routing_rule_versions_state_id", "routing_rule_versions", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_routing_rule_versions_state_id", table_name="routing_rule_versions")
    op.drop_table("routing_rule_versions")
