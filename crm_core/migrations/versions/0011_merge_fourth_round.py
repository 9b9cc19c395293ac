"""merge the fourth round (API tokens, webhooks, personal data, rule versions, department working time,
settings audit) into one line

Revision ID: 0011
Revises: 0010a, 0010b, 0010c, 0010f, 0010g, 0010h
"""

revision = "0011"
down_revision = ("0010a", "0010b", "0010c", "0010f", "0010g", "0010h")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
