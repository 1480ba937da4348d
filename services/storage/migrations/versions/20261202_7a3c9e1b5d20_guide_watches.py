"""guide watches: which bot process follows a flow's events (guide mode)

Revision ID: 7a3c9e1b5d20
Revises: 7b3f0e9c4d21
Create Date: 2026-12-02 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "7a3c9e1b5d20"
down_revision: str | Sequence[str] | None = "7b3f0e9c4d21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "guide_watches",
        sa.Column("flow_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("after", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("guide_watches")
