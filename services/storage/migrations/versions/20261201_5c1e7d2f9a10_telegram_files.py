"""telegram files: file ids of the pictures the bot sends

Revision ID: 5c1e7d2f9a10
Revises: 0c65cf90aa89
Create Date: 2026-12-01 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5c1e7d2f9a10"
down_revision: str | Sequence[str] | None = "0c65cf90aa89"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "telegram_files",
        sa.Column("bot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_id", sa.String(length=256), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", "name", "sha256"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("telegram_files")
