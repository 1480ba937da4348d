"""fsm records: the time of each row's last write, for the retention of abandoned dialogs

Revision ID: 7b3f0e9c4d21
Revises: 5c1e7d2f9a10
Create Date: 2026-12-02 10:00:00.000000

"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "7b3f0e9c4d21"
down_revision: str | Sequence[str] | None = "5c1e7d2f9a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("fsm_records", sa.Column("updated_at", sa.DateTime(timezone=True)))
    # Rows written before: their age is unknown, so their retention starts now.
    records = sa.table("fsm_records", sa.column("updated_at", sa.DateTime(timezone=True)))
    op.execute(records.update().values(updated_at=datetime.now(UTC)))
    op.create_index(op.f("ix_fsm_records_updated_at"), "fsm_records", ["updated_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_fsm_records_updated_at"), table_name="fsm_records")
    with op.batch_alter_table("fsm_records") as batch_op:
        batch_op.drop_column("updated_at")
