"""merge the capabilities' branches (agency, reports, routing, speech, agent states) into one line

Revision ID: 0005
Revises: 0004a, 0004p, 0004r, 0004s, 0004t
"""

revision = "0005"
down_revision = ("0004a", "0004p", "0004r", "0004s", "0004t")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
