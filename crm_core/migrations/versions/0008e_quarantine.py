"""mail quarantine (mail the hub could not store, kept raw) and system mail (automatic mail answering nothing)

Revision ID: 0008e
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0008e"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mail_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=200), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("raw_path", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("tried_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_quarantine")),
        sa.UniqueConstraint("sha256", name=op.f("uq_mail_quarantine_sha256")),
    )
    op.create_index(op.f("ix_mail_quarantine_created_at"), "mail_quarantine", ["created_at"])
    op.create_table(
        "system_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("original_ids", sa.JSON(), nullable=False),
        sa.Column("mailbox", sa.String(length=200), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("inquiry_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["inquiry_id"], ["inquiries.id"], name=op.f("fk_system_mail_inquiry_id_inquiries"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_mail")),
        sa.UniqueConstraint("message_id", name=op.f("uq_system_mail_message_id")),
    )
    op.create_index(op.f("ix_system_mail_kind"), "system_mail", ["kind"])
    op.create_index(op.f("ix_system_mail_created_at"), "system_mail", ["created_at"])


def downgrade() -> None:
    op.drop_table("system_mail")
    op.drop_table("mail_quarantine")
