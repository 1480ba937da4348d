"""The database locked for 30 seconds: every write still arrives, in order, once.

A real lock (another connection's BEGIN IMMEDIATE on the SQLite file) and simulated time: the
writer's retries sleep on a clock that only moves when they sleep, and the lock is released when
that clock reaches 30 s. Nothing waits for real.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from services.helpdesk import TranscriptStore
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.link_sessions import EventKind, LinkSessionRepository
from services.storage.models import Teacher
from services.storage.transient import Backoff
from services.storage.write_behind import WriteBehind, WriteDelayed
from tests.delivery.conftest import SimulatedTime, WriteLock

LOCKED_FOR = 30.0


@pytest.fixture
async def database(tmp_path: Path):
    path = tmp_path / "bot.sqlite3"
    # No busy wait: a locked write fails at once, and the writer's own backoff decides when to
    # try again (the real default waits 5 s inside SQLite before failing).
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_busy_timeout_ms=0)
    await create_all(engine)
    lock = WriteLock(path)
    yield engine, lock
    lock.close()
    await engine.dispose()


async def test_every_write_made_during_a_30_second_lock_arrives(
    database, simulated_time: SimulatedTime
) -> None:
    engine, lock = database
    factory = create_session_factory(engine)
    retries: list[str] = []
    writer = WriteBehind(
        factory,
        sleep=simulated_time.sleep,
        backoff=Backoff(initial=0.5, maximum=4.0),
        on_retry=lambda error: retries.append(type(error).__name__),
    )
    sessions = LinkSessionRepository(factory, writer=writer)
    transcript = TranscriptStore(factory, keep=1000, writer=writer)
    await sessions.begin(
        user_id=7, chat_id=7, flow_id="f-1", mesh_account_id="m-1", teacher_name="Мария", step="x"
    )

    await lock.hold()
    simulated_time.at(LOCKED_FOR, lock.release)
    for number in range(50):  # lines keep coming while the database is locked
        await transcript.record(7, "teacher", f"строка {number}")
        await sessions.enter_step(7, f"Link:step{number % 3}")
        await asyncio.sleep(0)
    await writer.flush()  # returns only once everything is committed

    assert simulated_time.now >= LOCKED_FOR
    assert retries and set(retries) == {"OperationalError"}
    assert writer.failed == 0
    lines = [entry.text for entry in await transcript.recent(7, limit=100)]
    assert lines == [f"строка {n}" for n in range(50)]  # every line, in order, once
    record = await sessions.get(7)
    assert record is not None and record.step == "Link:step1"  # the last of 50 steps (49 % 3)
    events = await sessions.events(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
    assert [e.step for e in events if e.kind == EventKind.STEP] == [
        f"Link:step{n % 3}" for n in range(50)
    ]
    await writer.close()


async def test_the_language_choice_is_written_through_and_the_caller_told_while_locked(
    database, simulated_time: SimulatedTime
) -> None:
    engine, lock = database
    factory = create_session_factory(engine)
    released = asyncio.Event()

    async def sleep_until_released(seconds: float) -> None:
        await simulated_time.sleep(seconds)
        if lock.held:
            await released.wait()  # the database stays locked until the test says otherwise

    writer = WriteBehind(factory, sleep=sleep_until_released, write_through_timeout=0.01)
    sessions = LinkSessionRepository(factory, writer=writer)

    await lock.hold()
    with pytest.raises(WriteDelayed):
        await sessions.set_locale(7, "en", "Anna")  # the teacher is told, not fooled
    lock.release()
    released.set()
    await writer.flush()

    assert await sessions.get_locale(7) == "en"  # the choice was kept and landed
    await writer.close()


async def test_a_write_that_fails_on_its_own_does_not_block_the_ones_held_by_the_lock(
    database, simulated_time: SimulatedTime
) -> None:
    engine, lock = database
    factory = create_session_factory(engine)
    writer = WriteBehind(factory, sleep=simulated_time.sleep)

    async def broken(_db) -> None:  # type: ignore[no-untyped-def]
        raise ValueError("a bug in one write")

    await lock.hold()
    simulated_time.at(3.0, lock.release)
    await writer.submit(_teacher(1))
    await writer.submit(broken, label="the broken write")
    await writer.submit(_teacher(2))
    await writer.flush()

    assert writer.failed == 1
    async with factory() as db:
        assert list(await db.scalars(select(Teacher.user_id).order_by(Teacher.user_id))) == [1, 2]
    await writer.close()


async def test_close_gives_up_after_its_timeout_and_names_every_write_left(
    database, caplog: pytest.LogCaptureFixture
) -> None:
    engine, lock = database
    factory = create_session_factory(engine)
    writer = WriteBehind(factory, close_timeout=0.05, backoff=Backoff(initial=0.001))
    await lock.hold()  # and never released
    await writer.submit(_teacher(1), label="teacher 1")
    await writer.submit(_teacher(2), label="teacher 2")

    with caplog.at_level(logging.ERROR, logger="services.storage.write_behind"):
        await writer.close()

    assert writer.unwritten_at_close == 2
    (record,) = [r for r in caplog.records if "NOT committed" in r.getMessage()]
    assert "teacher 1" in record.getMessage() and "teacher 2" in record.getMessage()
    lock.release()
    async with factory() as db:
        assert await db.get(Teacher, 1) is None


def _teacher(user_id: int):  # type: ignore[no-untyped-def]
    async def write(connection) -> None:  # type: ignore[no-untyped-def]
        row = {"user_id": user_id, "locale": "ru", "created_at": datetime.now(UTC)}
        await connection.execute(insert(Teacher.__table__), row)

    return write
