"""merge the third round (calls joining conversations, mail quarantine, calendar files, originate attempts)
into one line

Revision ID: 0009
Revises: 0008c, 0008e, 0008k, 0008o
"""

revision = "0009"
down_revision = ("0008c", "0008e", "0008k", "0008o")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
