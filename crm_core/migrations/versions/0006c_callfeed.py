"""department call feed's call bin; client self-service sign-in links and sessions

Revision ID: 0006c
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0006c"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_bin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("caller_name", sa.String(length=200), nullable=True),
        sa.Column("queue", sa.String(length=80), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("binned_by", sa.Integer(), nullable=True),
        sa.Column("binned_at", UTC, nullable=False),
        sa.Column("restored_by", sa.Integer(), nullable=True),
        sa.Column("restored_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_call_bin_department_id_departments"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["binned_by"], ["users.id"], name=op.f("fk_call_bin_binned_by_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["restored_by"], ["users.id"], name=op.f("fk_call_bin_restored_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_bin")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_call_bin_linkedid")),
    )
    op.create_index(op.f("ix_call_bin_number"), "call_bin", ["number"])
    op.create_index(op.f("ix_call_bin_department_id"), "call_bin", ["department_id"])
    op.create_index(op.f("ix_call_bin_binned_at"), "call_bin", ["binned_at"])
    op.create_table(
        "selfservice_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name=op.f("fk_selfservice_links_client_id_clients"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"],
                                name=op.f("fk_selfservice_links_requested_by_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_selfservice_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_selfservice_links_token_hash")),
    )
    op.create_index(op.f("ix_selfservice_links_client_id"), "selfservice_links", ["client_id"])
    op.create_index(op.f("ix_selfservice_links_expires_at"), "selfservice_links", ["expires_at"])
    op.create_table(
        "selfservice_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"],
                                name=op.f("fk_selfservice_sessions_client_id_clients"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_selfservice_sessions")),
    )
    op.create_index(op.f("ix_selfservice_sessions_client_id"), "selfservice_sessions", ["client_id"])
    op.create_index(op.f("ix_selfservice_sessions_expires_at"), "selfservice_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("selfservice_sessions")
    op.drop_table("selfservice_links")
    op.drop_table("call_bin")
