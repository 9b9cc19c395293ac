"""served departments of a department manager

Revision ID: 0006m
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006m"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "served_departments",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_served_departments_department_id_departments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_served_departments_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "department_id", name=op.f("pk_served_departments")),
    )


def downgrade() -> None:
    op.drop_table("served_departments")
