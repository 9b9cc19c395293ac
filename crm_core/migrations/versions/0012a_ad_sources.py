"""Advertising sources of web forms: UTM labels → source (utm_sources), each source's cost per month
(source_costs)

Revision ID: 0012a
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0012a"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "utm_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("utm_source", sa.String(length=200), nullable=False),
        sa.Column("utm_campaign", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_utm_sources_updated_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_utm_sources")),
        sa.UniqueConstraint("utm_source", "utm_campaign", name=op.f("uq_utm_sources_utm_source_utm_campaign")),
    )
    op.create_table(
        "source_costs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("amount_kop", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["users.id"], name=op.f("fk_source_costs_updated_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_costs")),
        sa.UniqueConstraint("source", "month", name=op.f("uq_source_costs_source_month")),
    )


def downgrade() -> None:
    op.drop_table("source_costs")
    op.drop_table("utm_sources")
