"""`python -m bot migrate`: the bot database upgraded to the newest alembic revision.

Run once before the replicas start (compose runs it as a one-shot service); a database made by
`create_all` is adopted when its tables match (see services/storage/schema.py).
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import make_url

from bot.config import Settings
from services.storage.schema import SchemaError, upgrade_to_head

logger = logging.getLogger(__name__)


def shown_url(database_url: str) -> str:
    """The URL with its password hidden, for logs."""
    return make_url(database_url).render_as_string(hide_password=True)


def migrate(settings: Settings) -> int:
    """Upgrade `settings.database_url` to head; the process exit code (0 done, 1 refused)."""
    try:
        outcome = upgrade_to_head(settings.database_url)
    except SchemaError as error:
        logger.error("migration refused for %s: %s", shown_url(settings.database_url), error)
        return 1
    logger.info("database %s: %s", shown_url(settings.database_url), outcome.value)
    return 0
