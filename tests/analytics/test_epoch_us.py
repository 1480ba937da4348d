"""`epoch_us` is exact to the microsecond on both databases, also just before a whole second
(SQLite's strftime('%s') rounds a fraction of .9995 and up to the next second: a median of
stays was 1 s off for the teachers who entered a step in that last half-millisecond)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from services.analytics import sql
from services.analytics.sql import epoch_us
from services.storage.db import create_engine
from services.storage.models import AnalyticsEvent
from tests.analytics.conftest import StatsDatabase

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MOMENTS = [
    datetime(2026, 11, 4, 21, 46, 43, 999_820, tzinfo=UTC),
    datetime(2026, 11, 4, 21, 46, 43, 999_999, tzinfo=UTC),
    datetime(2026, 11, 4, 21, 46, 43, 999_500, tzinfo=UTC),
    datetime(2026, 11, 4, 21, 46, 44, tzinfo=UTC),
    datetime(2026, 11, 4, 21, 46, 44, 1, tzinfo=UTC),
]


_events = AnalyticsEvent.__table__
_ID = 10**9


@pytest.mark.parametrize("unixepoch", [True, False], ids=["unixepoch", "strftime"])
@pytest.mark.parametrize("moment", MOMENTS, ids=lambda m: m.strftime("%S.%f"))
async def test_epoch_us_is_exact(
    stats_db: StatsDatabase, moment: datetime, unixepoch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite from 3.38 by unixepoch(), before it by strftime('%s'): the same figure."""
    monkeypatch.setattr(sql, "UNIXEPOCH_SINCE", (0,) if unixepoch else (999,))
    engine = create_engine(stats_db.url)
    try:
        async with engine.connect() as connection:
            # The moment as the table stores it, in a transaction rolled back.
            transaction = await connection.begin()
            try:
                await connection.execute(
                    insert(_events).values(id=_ID, at=moment, user_id=1, kind="step")
                )
                result = await connection.scalar(
                    select(epoch_us(_events.c.at)).where(_events.c.id == _ID)
                )
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()
    assert result == (moment - EPOCH) // timedelta(microseconds=1)
