"""funnel facts: per-teacher figures derived from analytics_events, caught up by /stats

Revision ID: 4e8b2c6a9f13
Revises: 7b3e5a1c2d44
Create Date: 2026-12-03 10:00:00.000000

The tables start empty: the first /stats or /export after the upgrade catches them up from
every event (the backfill; services/analytics/facts.py), later ones only what is new.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "4e8b2c6a9f13"
down_revision: str | Sequence[str] | None = "7b3e5a1c2d44"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "funnel_teachers",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("started", sa.Boolean(), nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_index("ix_funnel_teachers_first_at", "funnel_teachers", ["first_at"])
    op.create_index("ix_funnel_teachers_last_at", "funnel_teachers", ["last_at"])
    op.create_table(
        "funnel_facts",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scenario", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=True),
        sa.Column("stay_us", sa.BigInteger(), nullable=True),
        sa.Column("first_visit", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("value", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_funnel_facts_user_id", "funnel_facts", ["user_id"])
    op.create_index(
        "ix_funnel_facts_stays",
        "funnel_facts",
        ["kind", "scenario", "step", "stay_us", "first_at", "last_at"],
    )
    op.create_index(
        "ix_funnel_facts_visits",
        "funnel_facts",
        ["kind", "first_visit", "scenario", "step", "first_at", "last_at", "position"],
    )
    op.create_table(
        "funnel_facts_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("funnel_facts_state")
    op.drop_index("ix_funnel_facts_visits", table_name="funnel_facts")
    op.drop_index("ix_funnel_facts_stays", table_name="funnel_facts")
    op.drop_index("ix_funnel_facts_user_id", table_name="funnel_facts")
    op.drop_table("funnel_facts")
    op.drop_index("ix_funnel_teachers_last_at", table_name="funnel_teachers")
    op.drop_index("ix_funnel_teachers_first_at", table_name="funnel_teachers")
    op.drop_table("funnel_teachers")
