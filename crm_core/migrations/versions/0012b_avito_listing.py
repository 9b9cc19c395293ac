"""a property's Avito listing id: a chat under that listing is a lead on the property (channels/avito)

Revision ID: 0012b
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012b"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("avito_item_id", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_properties_avito_item_id"), ["avito_item_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("properties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_properties_avito_item_id"))
        batch_op.drop_column("avito_item_id")
