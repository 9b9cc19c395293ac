"""reports: indexes on inquiries and calls for the report queries

Revision ID: 0004p
Revises: 0003
Create Date: 2026-11-25 07:00:00
"""
from alembic import op


revision = '0004p'
down_revision = '0003'
branch_labels = None
depends_on = None

INDEXES = (
    ('ix_reports_inquiries_created_at', 'inquiries', ['created_at']),
    ('ix_reports_inquiries_owner_created', 'inquiries', ['owner_id', 'created_at']),
    ('ix_reports_calls_agent_started', 'calls', ['agent_id', 'started_at']),
    ('ix_reports_calls_callee_started', 'calls', ['callee', 'started_at']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
