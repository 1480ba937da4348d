"""`python -m bot migrate`: the bot database upgraded to the newest alembic revision.

Run once before the replicas start (compose runs it as a one-shot service); a database made by
`create_all` is adopted when its tables match (see services/storage/schema.py). Then the
funnel facts are caught up from the events (services/analytics/facts.py): after the upgrade
that adds them, this is their backfill, paid here rather than by the first /stats.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from services.analytics.facts import catch_up, tidy
from services.storage.db import create_engine
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
    try:
        teachers = asyncio.run(_catch_up_funnel(settings.database_url))
    except SQLAlchemyError as error:  # the schema is done; the first report catches up instead
        logger.warning("funnel facts not caught up: %s", error)
        return 0
    if teachers:
        logger.info("funnel facts: %d teachers caught up", teachers)
    return 0


async def _catch_up_funnel(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            teachers = await catch_up(connection)
        if teachers:
            await tidy(engine)
        return teachers
    finally:
        await engine.dispose()
