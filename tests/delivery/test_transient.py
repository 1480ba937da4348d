"""Which real database errors the write-behind retries (they pass) and which it gives up on."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.storage.transient import Backoff, is_transient


async def error_of(factory, *statements: str) -> DBAPIError:  # type: ignore[no-untyped-def]
    with pytest.raises(DBAPIError) as caught:
        async with factory() as db, db.begin():
            for statement in statements:
                await db.execute(text(statement))
    return caught.value


async def test_bugs_and_constraints_are_not_transient(factory) -> None:  # type: ignore[no-untyped-def]
    assert not is_transient(await error_of(factory, "SELECT * FROM no_such_table"))
    duplicate = "INSERT INTO teachers (user_id, created_at) VALUES (1, CURRENT_TIMESTAMP)"
    assert not is_transient(await error_of(factory, duplicate, duplicate))


@pytest.mark.postgres
@pytest.mark.parametrize("bot_database_url", ["postgres"], indirect=True)
async def test_a_postgres_connection_killed_under_the_writer_is_transient(factory) -> None:  # type: ignore[no-untyped-def]
    async with factory() as victim:
        pid = (await victim.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with factory() as killer:  # another connection: a restart, a failover, an admin
            await killer.execute(text(f"SELECT pg_terminate_backend({pid})"))
        with pytest.raises(DBAPIError) as caught:
            await victim.execute(text("SELECT 1"))
    assert is_transient(caught.value)


def test_backoff_doubles_up_to_its_maximum() -> None:
    backoff = Backoff(initial=0.1, factor=2.0, maximum=1.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
