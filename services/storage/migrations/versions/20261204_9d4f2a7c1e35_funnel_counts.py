"""funnel counts: the funnel facts summed per teacher's first and last UTC day, scenario, step

Revision ID: 9d4f2a7c1e35
Revises: 4e8b2c6a9f13
Create Date: 2026-12-04 10:00:00.000000

The table starts empty and the funnel facts' state is cleared: the next catch-up (`python -m
bot migrate` runs one right after the upgrade, or else the first /stats or /export) rebuilds
the facts and these counts from every event (services/analytics/facts.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "9d4f2a7c1e35"
down_revision: str | Sequence[str] | None = "4e8b2c6a9f13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "funnel_counts",
        sa.Column("first_day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("section", sa.String(length=32), nullable=False),
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("a", sa.BigInteger(), nullable=False),
        sa.Column("b", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("first_day", "last_day", "section", "scenario", "step"),
    )
    op.execute("DELETE FROM funnel_facts_state")


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("funnel_counts")
