"""routing: the official production calendar files loaded by the administrator, with their history

Revision ID: 0008k
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0008k"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "routing_calendar_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("loaded_by", sa.Integer(), nullable=True),
        sa.Column("loaded_at", UTC, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["loaded_by"], ["users.id"], name=op.f("fk_routing_calendar_files_loaded_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_calendar_files")),
    )
    op.create_index("ix_routing_calendar_files_year_id", "routing_calendar_files", ["year", "id"])


def downgrade() -> None:
    op.drop_index("ix_routing_calendar_files_year_id", table_name="routing_calendar_files")
    op.drop_table("routing_calendar_files")
