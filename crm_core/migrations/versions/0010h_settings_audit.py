"""The settings journal (settings_audit), the PBX queues' names (queue_names), the word lists
(speech_word_lists)

Revision ID: 0010h
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0010h"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "settings_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_settings_audit_actor_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings_audit")),
    )
    op.create_index("ix_settings_audit_at", "settings_audit", ["at"])
    op.create_index("ix_settings_audit_kind_at", "settings_audit", ["kind", "at"])
    op.create_index(op.f("ix_settings_audit_actor_id"), "settings_audit", ["actor_id"])
    op.create_table(
        "queue_names",
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("queue", name=op.f("pk_queue_names")),
    )
    op.create_table(
        "speech_word_lists",
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("phrases", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("category", name=op.f("pk_speech_word_lists")),
    )


def downgrade() -> None:
    op.drop_table("speech_word_lists")
    op.drop_table("queue_names")
    op.drop_index(op.f("ix_settings_audit_actor_id"), table_name="settings_audit")
    op.drop_index("ix_settings_audit_kind_at", table_name="settings_audit")
    op.drop_index("ix_settings_audit_at", table_name="settings_audit")
    op.drop_table("settings_audit")
