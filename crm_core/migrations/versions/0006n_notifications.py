"""notifications: notices per user, their Telegram/email deliveries, preferences, Telegram link codes,
memorable dates' reminder settings, greeting templates and sent greetings

Revision ID: 0006n
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import crm_core.models.base

revision = "0006n"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = crm_core.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("read_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("user_id", "dedup_key", name=op.f("uq_notifications_user_id_dedup_key")),
    )
    op.create_index("ix_notifications_user_id_created_at", "notifications", ["user_id", "created_at"])
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("to", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
        sa.UniqueConstraint("source", "channel", name=op.f("uq_notice_deliveries_source_channel")),
    )
    op.create_index(op.f("ix_notice_deliveries_status"), "notice_deliveries", ["status"])
    op.create_index(op.f("ix_notice_deliveries_next_attempt_at"), "notice_deliveries", ["next_attempt_at"])
    op.create_table(
        "notification_prefs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_notification_prefs_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_prefs")),
    )
    op.create_table(
        "telegram_link_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_telegram_link_codes_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_telegram_link_codes")),
    )
    op.create_index(op.f("ix_telegram_link_codes_user_id"), "telegram_link_codes", ["user_id"])
    op.create_table(
        "greeting_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_greeting_templates")),
    )
    op.create_table(
        "date_reminders",
        sa.Column("date_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("repeat_yearly", sa.Boolean(), nullable=False),
        sa.Column("greet_by", sa.String(length=20), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["date_id"], ["memorable_dates.id"],
                                name=op.f("fk_date_reminders_date_id_memorable_dates"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["template_id"], ["greeting_templates.id"],
                                name=op.f("fk_date_reminders_template_id_greeting_templates"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("date_id", name=op.f("pk_date_reminders")),
    )
    op.create_table(
        "greetings_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date_id", sa.Integer(), nullable=False),
        sa.Column("occurrence", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["date_id"], ["memorable_dates.id"],
                                name=op.f("fk_greetings_sent_date_id_memorable_dates"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_greetings_sent")),
        sa.UniqueConstraint("date_id", "occurrence", name=op.f("uq_greetings_sent_date_id_occurrence")),
    )


def downgrade() -> None:
    op.drop_table("greetings_sent")
    op.drop_table("date_reminders")
    op.drop_table("greeting_templates")
    op.drop_index(op.f("ix_telegram_link_codes_user_id"), table_name="telegram_link_codes")
    op.drop_table("telegram_link_codes")
    op.drop_table("notification_prefs")
    op.drop_index(op.f("ix_notice_deliveries_next_attempt_at"), table_name="notice_deliveries")
    op.drop_index(op.f("ix_notice_deliveries_status"), table_name="notice_deliveries")
    op.drop_table("notice_deliveries")
    op.drop_index("ix_notifications_user_id_created_at", table_name="notifications")
    op.drop_table("notifications")
