"""telegram name of helpdesk tickets

The teacher's name in Telegram («Мария @maria»), shown on the ticket's card next to her name from
the e-journal, with a link to her; unknown (NULL) for tickets opened before.

Revision ID: 7b3e5a1c2d44
Revises: 7a3c9e1b5d20
Create Date: 2026-12-03 10:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "7b3e5a1c2d44"
down_revision: str | Sequence[str] | None = "7a3c9e1b5d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("helpdesk_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_name", sa.String(length=256), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("helpdesk_tickets", schema=None) as batch_op:
        batch_op.drop_column("telegram_name")
