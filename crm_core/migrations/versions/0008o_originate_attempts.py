"""click-to-call attempts and calls cut by the PBX: calls.cut_by, calls.task_id

Revision ID: 0008o
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008o"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (SQLite accepts REFERENCES on an added nullable column): no rebuild
    # of the calls table, whose rows and the foreign keys pointing at it stay untouched.
    op.add_column("calls", sa.Column("cut_by", sa.String(length=20), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE calls ADD COLUMN task_id INTEGER "
                   "CONSTRAINT fk_calls_task_id_tasks REFERENCES tasks (id)")
    else:
        op.add_column("calls", sa.Column("task_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_calls_task_id_tasks"), "calls", "tasks", ["task_id"], ["id"])
    op.create_index(op.f("ix_calls_task_id"), "calls", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_calls_task_id"), table_name="calls")
    with op.batch_alter_table("calls") as batch_op:
        if op.get_bind().dialect.name != "sqlite":
            batch_op.drop_constraint(op.f("fk_calls_task_id_tasks"), type_="foreignkey")
        batch_op.drop_column("task_id")
        batch_op.drop_column("cut_by")
