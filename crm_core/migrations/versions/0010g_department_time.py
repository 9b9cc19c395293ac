"""working time per department: a department in another city keeps its own time zone and working hours;
a duty rota may belong to a department (its zone then applies)

Revision ID: 0010g
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010g"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("work_hours", sa.String(length=200), nullable=True))
    with op.batch_alter_table("routing_duty_schedules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_routing_duty_schedules_department_id_departments"), "departments",
                                    ["department_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("routing_duty_schedules", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_routing_duty_schedules_department_id_departments"), type_="foreignkey")
        batch_op.drop_column("department_id")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_column("work_hours")
        batch_op.drop_column("time_zone")
