"""merge the second round of capabilities (call feed, served departments, notifications, workflow, wallboard,
cluster) into one line

Revision ID: 0007
Revises: 0006c, 0006m, 0006n, 0006q, 0006w, 0006x
"""

revision = "0007"
down_revision = ("0006c", "0006m", "0006n", "0006q", "0006w", "0006x")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
