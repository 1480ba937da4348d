"""Write-behind batching of the bot's side writes: group commit, visibility, failures, bounds.

Runs on SQLite and (when 127.0.0.1:5432 answers) PostgreSQL, like the FSM storage tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from services.helpdesk import TranscriptStore
from services.helpdesk.models import TranscriptEntry
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.link_sessions import EventKind, LinkSessionRepository
from services.storage.models import AnalyticsEvent, Teacher
from services.storage.write_behind import WriteBehind, _Op, _plan

_TABLES = ("helpdesk_transcript", "analytics_events", "link_sessions", "teachers")
T0 = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.moment = T0

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@dataclass
class SqlLog:
    """Statements and COMMITs the engine ran."""

    statements: list[tuple[str, bool]] = field(default_factory=list)
    commits: int = 0

    def count(self, verb: str, table: str) -> int:
        return sum(
            1
            for sql, _ in self.statements
            if sql.lstrip().upper().startswith(verb) and table in sql.split("WHERE")[0]
        )


@pytest.fixture
async def bot_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await create_all(engine)
    async with engine.begin() as connection:
        for table in _TABLES:
            await connection.execute(text(f"DELETE FROM {table}"))
    yield engine
    await engine.dispose()


@pytest.fixture
def factory(bot_engine: AsyncEngine) -> async_sessionmaker:
    return create_session_factory(bot_engine)


@pytest.fixture
def sql(bot_engine: AsyncEngine) -> Iterator[SqlLog]:
    log = SqlLog()

    def on_execute(_conn, _cursor, statement, _parameters, _context, executemany) -> None:  # type: ignore[no-untyped-def]
        log.statements.append((statement, executemany))

    def on_commit(_conn) -> None:  # type: ignore[no-untyped-def]
        log.commits += 1

    event.listen(bot_engine.sync_engine, "before_cursor_execute", on_execute)
    event.listen(bot_engine.sync_engine, "commit", on_commit)
    yield log
    event.remove(bot_engine.sync_engine, "before_cursor_execute", on_execute)
    event.remove(bot_engine.sync_engine, "commit", on_commit)


@pytest.fixture
async def writer(factory: async_sessionmaker) -> AsyncIterator[WriteBehind]:
    writer = WriteBehind(factory, name="test")
    yield writer
    await writer.close()


_TEACHER_ROW = insert(Teacher.__table__)


def teacher_row(user_id: int) -> dict:
    return {"user_id": user_id, "locale": "ru", "first_name": None, "created_at": T0}


async def teacher_ids(factory: async_sessionmaker) -> list[int]:
    async with factory() as db:
        return list(await db.scalars(select(Teacher.user_id).order_by(Teacher.user_id)))


class Gate:
    """An op that holds its batch's transaction open until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, _db: AsyncConnection) -> None:
        self.entered.set()
        await self.release.wait()


# --- the batcher ------------------------------------------------------------------------------


async def test_concurrent_submits_commit_in_fewer_transactions(
    writer: WriteBehind, factory: async_sessionmaker, sql: SqlLog
) -> None:
    await asyncio.gather(*(writer.submit(_TEACHER_ROW, teacher_row(i)) for i in range(50)))
    await writer.flush()

    assert await teacher_ids(factory) == list(range(50))
    assert 1 <= sql.commits < 50
    assert writer.batches == sql.commits
    # Consecutive submissions of one statement ran as one executemany.
    inserts = [(s, many) for s, many in sql.statements if s.startswith("INSERT INTO teachers")]
    assert len(inserts) < 50 and any(many for _, many in inserts)


async def test_every_batch_runs_on_the_one_connection_the_writer_holds(
    writer: WriteBehind, bot_engine: AsyncEngine, factory: async_sessionmaker
) -> None:
    """No session, pool checkout, check-in nor close per batch: SQLAlchemy closes a session or
    connection in a task of its own (two loop turns, 10-30 ms each on a busy loop)."""
    checkouts: list[int] = []

    def on_checkout(dbapi, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        checkouts.append(id(dbapi))

    event.listen(bot_engine.sync_engine, "checkout", on_checkout)
    try:
        await writer.submit(_TEACHER_ROW, teacher_row(1), wait=True)
        await writer.submit(_TEACHER_ROW, teacher_row(2), wait=True)
        await writer.submit(_TEACHER_ROW, teacher_row(3))
        await writer.flush()
    finally:
        event.remove(bot_engine.sync_engine, "checkout", on_checkout)
    assert writer.batches == 3
    assert len(checkouts) <= 1  # once for the writer's life (none if an earlier test opened it)
    assert await teacher_ids(factory) == [1, 2, 3]


async def test_flush_makes_every_write_before_it_visible(
    writer: WriteBehind, factory: async_sessionmaker
) -> None:
    await writer.submit(_TEACHER_ROW, teacher_row(1))
    assert writer.pending == 1  # queued, the caller did not wait for the database
    await writer.flush()
    assert writer.pending == 0
    assert await teacher_ids(factory) == [1]
    await writer.flush()  # nothing pending: returns at once


async def test_writes_made_during_a_commit_go_into_the_next_batch(
    writer: WriteBehind, factory: async_sessionmaker, sql: SqlLog
) -> None:
    gate = Gate()
    await writer.submit(gate)
    await writer.submit(_TEACHER_ROW, teacher_row(1))
    await gate.entered.wait()  # the first batch is committing
    for user_id in (2, 3, 4):
        await writer.submit(_TEACHER_ROW, teacher_row(user_id))
    flushed = asyncio.create_task(writer.flush())
    gate.release.set()
    await flushed

    assert await teacher_ids(factory) == [1, 2, 3, 4]
    assert writer.batches == 2 and sql.commits == 2


async def test_a_failing_write_is_logged_and_the_rest_of_its_batch_is_kept(
    writer: WriteBehind, factory: async_sessionmaker, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_db: AsyncConnection) -> None:
        raise ValueError("boom")

    await writer.submit(_TEACHER_ROW, teacher_row(1))
    await writer.submit(broken, label="the broken write")
    await writer.submit(_TEACHER_ROW, teacher_row(1), label="a duplicate key")  # IntegrityError
    await writer.submit(_TEACHER_ROW, teacher_row(2))
    with caplog.at_level(logging.WARNING, logger="services.storage.write_behind"):
        await writer.flush()

    assert await teacher_ids(factory) == [1, 2]
    assert writer.failed == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().rsplit(": ", 1)[1] for r in errors] == [
        "the broken write",
        "a duplicate key",
    ]
    assert all(r.exc_info for r in errors)
    # The writer goes on: the next batch is committed normally.
    await writer.submit(_TEACHER_ROW, teacher_row(3))
    await writer.flush()
    assert await teacher_ids(factory) == [1, 2, 3]


async def test_close_commits_what_is_pending_and_refuses_new_writes(
    factory: async_sessionmaker,
) -> None:
    writer = WriteBehind(factory)
    for user_id in range(5):
        await writer.submit(_TEACHER_ROW, teacher_row(user_id))
    await writer.close()

    assert await teacher_ids(factory) == list(range(5))
    with pytest.raises(RuntimeError):
        await writer.submit(_TEACHER_ROW, teacher_row(9))


async def test_back_pressure_bounds_the_queue_without_dropping(
    factory: async_sessionmaker,
) -> None:
    writer = WriteBehind(factory, max_pending=3)
    gate = Gate()
    await writer.submit(gate)
    await gate.entered.wait()  # the writer is busy: nothing leaves the queue
    submitters = [
        asyncio.create_task(writer.submit(_TEACHER_ROW, teacher_row(i))) for i in range(10)
    ]
    for _ in range(5):
        await asyncio.sleep(0)  # let every submitter run as far as it can
    assert writer.pending == 3
    assert sum(task.done() for task in submitters) == 3

    gate.release.set()
    await asyncio.gather(*submitters)
    await writer.close()
    assert await teacher_ids(factory) == list(range(10))


TEACHERS = range(100, 150)


async def fifty_begun_teachers(
    factory: async_sessionmaker, sql: SqlLog
) -> tuple[WriteBehind, LinkSessionRepository, TranscriptStore]:
    """One writer for link sessions and the transcript, fifty teachers begun, the log cleared."""
    clock = Clock()
    writer = WriteBehind(factory, name="test")
    sessions = LinkSessionRepository(factory, clock=clock, writer=writer)
    transcript = TranscriptStore(factory, clock=clock, keep=3, writer=writer)
    for user_id in TEACHERS:
        await begin(sessions, user_id)
    sql.statements.clear()
    return writer, sessions, transcript


async def test_interleaved_teachers_share_one_executemany_per_statement_in_order(
    factory: async_sessionmaker, sql: SqlLog
) -> None:
    """Fifty teachers' steps and transcript lines, interleaved as concurrent updates submit
    them, run as a handful of executemanys, and each teacher's writes still compose in order."""
    writer, sessions, transcript = await fifty_begun_teachers(factory, sql)
    teachers = TEACHERS
    for step in ("Link:phone", "Link:code", "Link:password"):
        for user_id in teachers:  # one loop turn: everything lands in one batch
            await sessions.enter_step(user_id, step)
            await transcript.record(user_id, "bot", f"{step} for {user_id}")
            await transcript.record(user_id, "teacher", "ok")
    await writer.flush()

    # enter_step is 2 statements, a line 1, the trim 1: 50 × 3 × 4 rows, in < 16 round trips.
    assert len(sql.statements) < 16, sql.statements
    for user_id in (100, 149):
        record = await sessions.get(user_id)
        assert record is not None and record.step == "Link:password"
        assert await transcript_rows(factory, user_id) == [
            ("teacher", "ok"),
            ("bot", f"Link:password for {user_id}"),
            ("teacher", "ok"),
        ]
    events = await sessions.events(T0, T0 + timedelta(hours=1))
    steps = [e.step for e in events if e.user_id == 120 and e.kind == EventKind.STEP]
    assert steps == ["Link:phone", "Link:code", "Link:password"]
    await writer.close()


def test_the_plan_moves_a_keyed_row_only_past_other_keys_and_never_past_a_keyless_op() -> None:
    async def function(_db: AsyncConnection) -> None:
        return None

    def row(label: str, key: object) -> _Op:
        return _Op(None, _TEACHER_ROW, {}, label, order_key=key)

    def keyed(label: str, key: object) -> _Op:
        return _Op(function, None, None, label, order_key=key)

    ops = [
        row("a1", "a"),
        keyed("fb", "b"),  # keyed: later rows of other keys may run before it
        row("c1", "c"),
        keyed("fa", "a"),
        row("a2", "a"),  # after fa: must not join a1's run
        _Op(function, None, None, "barrier"),  # keyless: nothing moves past it
        row("d1", "d"),
        row("e1", "e"),
    ]
    assert [[op.label for op in group] for group in _plan(ops)] == [
        ["a1", "c1"],
        ["fb"],
        ["fa"],
        ["a2"],
        ["barrier"],
        ["d1", "e1"],
    ]


def test_the_plan_joins_the_earliest_run_a_keyed_row_may_join() -> None:
    """Two statements interleaved per key (x, y, x as a teacher's line, step, bot's line): every
    key's rows join the first runs they may, three groups whatever the number of keys."""
    other = insert(TranscriptEntry.__table__)

    def row(statement: object, label: str, key: object) -> _Op:
        return _Op(None, statement, {}, label, order_key=key)  # type: ignore[arg-type]

    ops = [
        row(statement, f"{key}{number}", key)
        for key in "abc"
        for number, statement in ((1, _TEACHER_ROW), (2, other), (3, _TEACHER_ROW))
    ]
    assert [[op.label for op in group] for group in _plan(ops)] == [
        ["a1", "b1", "c1"],
        ["a2", "b2", "c2"],
        ["a3", "b3", "c3"],
    ]


async def test_teachers_lines_and_steps_as_the_bot_orders_them_share_a_few_executemanys(
    factory: async_sessionmaker, sql: SqlLog
) -> None:
    """As concurrent updates submit them: her line, her step (2 statements), the bot's line —
    one executemany per statement and round, each teacher's writes composed in order."""
    writer, sessions, transcript = await fifty_begun_teachers(factory, sql)
    teachers = TEACHERS
    for step in ("Link:phone", "Link:code"):
        for user_id in teachers:  # one loop turn: everything lands in one batch
            await transcript.record(user_id, "teacher", f"to {step}")
            await sessions.enter_step(user_id, step)
            await transcript.record(user_id, "bot", f"{step} for {user_id}")
    await writer.flush()

    # 2 rounds × (line, step event, step, line) + the trim, 50 teachers each: 9 round trips.
    assert len(sql.statements) <= 9, len(sql.statements)
    for user_id in (100, 149):
        record = await sessions.get(user_id)
        assert record is not None and record.step == "Link:code"
        assert await transcript_rows(factory, user_id) == [
            ("bot", f"Link:phone for {user_id}"),
            ("teacher", "to Link:code"),
            ("bot", f"Link:code for {user_id}"),
        ]
    events = await sessions.events(T0, T0 + timedelta(hours=1))
    steps = [e.step for e in events if e.user_id == 120 and e.kind == EventKind.STEP]
    assert steps == ["Link:phone", "Link:code"]
    await writer.close()


async def test_once_per_batch_runs_last_and_once_per_key(writer: WriteBehind) -> None:
    ran: list[str] = []

    def op(name: str):  # type: ignore[no-untyped-def]
        async def run(_db: AsyncConnection) -> None:
            ran.append(name)

        return run

    await writer.submit(op("end-a"), once_per_batch="a")
    await writer.submit(op("first"))
    await writer.submit(op("end-a"), once_per_batch="a")
    await writer.submit(op("end-b"), once_per_batch="b")
    await writer.submit(op("second"))
    await writer.flush()
    assert ran == ["first", "second", "end-a", "end-b"]


# --- write-through first ---------------------------------------------------------------------


class Journal:
    """Ops that note their name when they run; '|' marks each commit of the engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.ran: list[str] = []
        self._engine = engine
        event.listen(engine.sync_engine, "commit", self._on_commit)

    def _on_commit(self, _conn) -> None:  # type: ignore[no-untyped-def]
        self.ran.append("|")

    def remove(self) -> None:
        event.remove(self._engine.sync_engine, "commit", self._on_commit)

    def op(self, name: str, user_id: int | None = None):  # type: ignore[no-untyped-def]
        async def run(connection: AsyncConnection) -> None:
            self.ran.append(name)
            await connection.execute(text("SELECT 1"))
            if user_id is not None:
                await connection.execute(_TEACHER_ROW, teacher_row(user_id))

        return run


@pytest.fixture
def journal(bot_engine: AsyncEngine) -> Iterator[Journal]:
    journal = Journal(bot_engine)
    yield journal
    journal.remove()


async def test_write_through_goes_ahead_of_other_keys_but_never_of_its_own_earlier_ops(
    writer: WriteBehind, factory: async_sessionmaker, journal: Journal
) -> None:
    gate = Gate()
    await writer.submit(gate)
    await gate.entered.wait()  # a batch is committing: what follows is queued
    await writer.submit(journal.op("a1"), order_key="a")
    await writer.submit(journal.op("b1"), order_key="b")
    await writer.submit(journal.op("a2"), order_key="a")
    through = asyncio.create_task(
        writer.submit(journal.op("bW", user_id=7), order_key="b", wait=True)
    )
    await asyncio.sleep(0)  # queued
    await writer.submit(journal.op("c1"), order_key="c")
    gate.release.set()
    await through
    # Committed before the call returned: another session sees the row.
    assert await teacher_ids(factory) == [7]
    await writer.flush()

    # The gate's batch commits ('|'); then the write-through's own transaction, with the earlier
    # op of its key; then the rest, in order.
    assert journal.ran == ["|", "b1", "bW", "|", "a1", "a2", "c1", "|"]


async def test_write_through_never_goes_ahead_of_a_keyless_op(
    writer: WriteBehind, journal: Journal
) -> None:
    gate = Gate()
    await writer.submit(gate)
    await gate.entered.wait()
    await writer.submit(journal.op("a1"), order_key="a")
    await writer.submit(journal.op("keyless"))  # may touch anything: nothing moves past it
    through = asyncio.create_task(writer.submit(journal.op("bW"), order_key="b", wait=True))
    await asyncio.sleep(0)
    await writer.submit(journal.op("c1"), order_key="c")
    gate.release.set()
    await through
    await writer.flush()

    assert journal.ran == ["|", "a1", "keyless", "bW", "c1", "|"]  # the gate's batch first


async def test_a_big_batch_commits_in_slices_and_write_through_waits_for_one_slice(
    factory: async_sessionmaker, journal: Journal
) -> None:
    writer = WriteBehind(factory, name="test", max_batch_groups=2)
    gate = Gate()
    # One batch of five round trips: committed as [gate, x1], then [x2, b1], then [x3].
    await writer.submit(gate, order_key="g")
    for name, key in (("x1", "x1"), ("x2", "x2"), ("b1", "b"), ("x3", "x3")):
        await writer.submit(journal.op(name), order_key=key)
    await gate.entered.wait()  # the first slice is committing
    through = asyncio.create_task(writer.submit(journal.op("bW"), order_key="b", wait=True))
    gate.release.set()
    await through
    await writer.close()

    # bW overtook the batch's rest, taking along b1 (an earlier op of its key) but not x2, x3.
    assert journal.ran == ["x1", "|", "b1", "bW", "|", "x2", "x3", "|"]
    assert writer.batches == 3


async def test_a_flush_for_one_key_waits_only_for_that_key_and_keyless_writes(
    writer: WriteBehind, factory: async_sessionmaker
) -> None:
    gate = Gate()
    await writer.submit(gate, order_key="a")  # a's write is committing, held open
    await gate.entered.wait()
    try:
        await writer.submit(_TEACHER_ROW, teacher_row(1), order_key="a")  # queued behind it
        for_b = asyncio.create_task(writer.flush(order_key="b"))
        for_a = asyncio.create_task(writer.flush(order_key="a"))
        for_all = asyncio.create_task(writer.flush())
        await asyncio.sleep(0)  # one loop turn, counted
        assert for_b.done()  # nothing of b's uncommitted: at once
        assert not for_a.done() and not for_all.done()

        await writer.submit(_TEACHER_ROW, teacher_row(2))  # keyless: may touch b's rows
        for_b = asyncio.create_task(writer.flush(order_key="b"))
        await asyncio.sleep(0)
        assert not for_b.done()
    finally:
        gate.release.set()
    await asyncio.gather(for_a, for_all, for_b)
    assert await teacher_ids(factory) == [1, 2]


async def test_her_language_is_read_without_waiting_for_other_teachers_writes(
    factory: async_sessionmaker,
) -> None:
    writer = WriteBehind(factory)
    sessions = LinkSessionRepository(factory, clock=Clock(), writer=writer)
    await sessions.set_locale(7, "en")
    gate = Gate()
    await writer.submit(gate, order_key=8)  # another teacher's writes, held open
    await gate.entered.wait()
    flushed_for: list[object] = []
    flush = writer.flush

    async def spy(order_key: object = None) -> None:
        flushed_for.append(order_key)
        await flush(order_key)

    writer.flush = spy  # type: ignore[method-assign]
    try:
        other = asyncio.create_task(sessions.get_locale(8))
        # Read while teacher 8's batch is still open (it would wait for it, not return).
        assert await sessions.get_locale(7) == "en"
        assert not other.done()  # teacher 8's read waits for teacher 8's writes
    finally:
        gate.release.set()
    assert await other is None
    assert sorted(flushed_for) == [7, 8]  # each read flushed for her own key only
    await writer.close()


# --- the transcript ---------------------------------------------------------------------------


async def transcript_rows(factory: async_sessionmaker, user_id: int) -> list[tuple[str, str]]:
    async with factory() as db:
        rows = await db.execute(
            select(TranscriptEntry.author, TranscriptEntry.text)
            .where(TranscriptEntry.user_id == user_id)
            .order_by(TranscriptEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_transcript_skips_repeats_and_trims_within_one_batch(
    factory: async_sessionmaker, sql: SqlLog
) -> None:
    store = TranscriptStore(factory, clock=Clock(), keep=3)
    for author, line in [
        ("teacher", "один"),
        ("bot", "два"),
        ("bot", "два"),  # exact repeat: skipped
        ("teacher", "два"),  # same text, other author: kept
        ("teacher", "три"),
        ("bot", "четыре"),
    ]:
        await store.record(100, author, line)
    await store.record(200, "bot", "чужое")
    await store.close()

    assert sql.commits == 1
    assert sql.count("SELECT", "helpdesk_transcript") == 0  # no reads on the write path
    assert sql.count("DELETE", "helpdesk_transcript") == 1  # one trim, for both teachers
    assert await transcript_rows(factory, 100) == [
        ("teacher", "два"),
        ("teacher", "три"),
        ("bot", "четыре"),
    ]
    assert await transcript_rows(factory, 200) == [("bot", "чужое")]


async def test_transcript_repeat_rule_holds_across_batches_and_restarts(
    factory: async_sessionmaker,
) -> None:
    store = TranscriptStore(factory, clock=Clock(), keep=3)
    await store.record(100, "bot", "Введите код")
    await store.flush()
    await store.record(100, "bot", "Введите код")  # repeat in the next batch
    await store.close()
    restarted = TranscriptStore(factory, clock=Clock(), keep=3)
    await restarted.record(100, "bot", "  Введите код ")  # and after a restart
    await restarted.record(100, "teacher", "123")
    await restarted.record(100, "bot", "Введите код")  # not a repeat any more
    recent = await restarted.recent(100)  # the reader sees the lines just recorded
    await restarted.close()

    assert [(e.author, e.text) for e in recent] == [
        ("bot", "Введите код"),
        ("teacher", "123"),
        ("bot", "Введите код"),
    ]


async def test_transcript_never_keeps_more_than_keep_lines_across_batches(
    factory: async_sessionmaker,
) -> None:
    store = TranscriptStore(factory, clock=Clock(), keep=3)
    for number in range(10):
        await store.record(100, "teacher", f"строка {number}")
        if number % 3 == 0:
            await store.flush()
            assert len(await transcript_rows(factory, 100)) <= 3
    assert [e.text for e in await store.recent(100, limit=50)] == [
        "строка 7",
        "строка 8",
        "строка 9",
    ]
    await store.close()


# --- link sessions ----------------------------------------------------------------------------


async def begin(sessions: LinkSessionRepository, user_id: int) -> None:
    await sessions.begin(
        user_id=user_id,
        chat_id=user_id,
        flow_id="flow-1",
        mesh_account_id="mesh-1",
        teacher_name="Мария",
        step="Onboarding:welcome",
    )


async def test_link_session_readers_see_the_writes_made_just_before(
    factory: async_sessionmaker,
) -> None:
    clock = Clock()
    sessions = LinkSessionRepository(factory, clock=clock)
    await sessions.set_locale(7, "en", "Anna")
    assert await sessions.get_locale(7) == "en"
    await sessions.set_locale(7, "ru")
    assert await sessions.get_locale(7) == "ru"

    await begin(sessions, 7)
    record = await sessions.get(7)
    assert record is not None and record.step == "Onboarding:welcome"
    events = await sessions.events(T0, T0 + timedelta(hours=1))
    assert [e.kind for e in events] == [EventKind.STARTED]
    await sessions.close()


async def test_link_session_writes_of_one_batch_compose_like_separate_calls(
    factory: async_sessionmaker, sql: SqlLog
) -> None:
    clock = Clock()
    sessions = LinkSessionRepository(factory, clock=clock)
    await begin(sessions, 7)  # written through: committed on its own before it returns
    assert sql.commits == 1
    # All queued without yielding to the writer: one batch, one transaction.
    await sessions.enter_step(8, "Link:phone")  # no record: nothing at all
    clock.advance(1)
    await sessions.enter_step(7, "Link:phone", scenario="new_profile")
    clock.advance(1)
    await sessions.enter_step(7, "Link:phone", phone_masked="+7 *** ***-**-77")  # same step
    await sessions.code_requested(7)
    await sessions.code_requested(7)
    clock.advance(1)
    await sessions.enter_step(7, "Link:code")
    for number in range(7):
        await sessions.record_refusal(7, f"wrong_code_{number}")
    await sessions.record_event(7, EventKind.LINKED)
    await sessions.record_event(9, EventKind.RATING, value=5)  # no record: still counted
    await sessions.flush()
    assert sql.commits == 2

    record = await sessions.get(7)
    assert record is not None
    assert await sessions.get(8) is None
    assert (record.step, record.scenario, record.phone_masked, record.codes_requested) == (
        "Link:code",
        "new_profile",
        "+7 *** ***-**-77",
        2,
    )
    assert record.step_entered_at.replace(tzinfo=UTC) == T0 + timedelta(seconds=3)
    assert [e["code"] for e in record.last_errors] == [f"wrong_code_{n}" for n in range(2, 7)]
    assert {e["step"] for e in record.last_errors} == {"Link:code"}

    events = await sessions.events(T0, T0 + timedelta(hours=1))
    assert [(e.user_id, e.kind, e.scenario, e.step) for e in events if e.kind != "refusal"] == [
        (7, EventKind.STARTED, None, "Onboarding:welcome"),
        (7, EventKind.STEP, "new_profile", "Link:phone"),
        (7, EventKind.STEP, "new_profile", "Link:code"),
        (7, EventKind.LINKED, "new_profile", "Link:code"),
        (9, EventKind.RATING, None, None),
    ]
    refusals = [e for e in events if e.kind == EventKind.REFUSAL]
    assert len(refusals) == 7 and {(e.scenario, e.step) for e in refusals} == {
        ("new_profile", "Link:code")
    }
    await sessions.close()


async def test_begin_again_starts_the_record_afresh_and_locale_keeps_her_first_row(
    factory: async_sessionmaker,
) -> None:
    """/start with a new token over an old record: every field of the walk is reset (only the
    user stays); «Начать заново» moves the record to the fresh flow; the language is updated
    without touching her name or first moment."""
    clock = Clock()
    sessions = LinkSessionRepository(factory, clock=clock)
    await sessions.set_locale(7, "en", "Anna")
    clock.advance(60)
    await sessions.set_locale(7, "ru", "Someone else")
    async with factory() as db:
        teacher = await db.get(Teacher, 7)
        assert teacher is not None
        assert (teacher.locale, teacher.first_name) == ("ru", "Anna")
        assert teacher.created_at.replace(tzinfo=UTC) == T0

    await begin(sessions, 7)
    await sessions.enter_step(7, "Link:phone", scenario="new_profile", phone_masked="+7 ***")
    await sessions.code_requested(7)
    await sessions.record_refusal(7, "wrong_code")
    await sessions.switch_flow(7, "flow-2")
    await sessions.switch_flow(8, "flow-2")  # no record: nothing
    record = await sessions.get(7)
    assert record is not None
    assert (record.flow_id, record.scenario, record.phone_masked, record.step) == (
        "flow-2",
        None,
        None,
        "Link:phone",
    )
    assert record.codes_requested == 1 and [e["code"] for e in record.last_errors] == ["wrong_code"]
    assert await sessions.get(8) is None

    clock.advance(60)
    await sessions.begin(
        user_id=7,
        chat_id=70,
        flow_id="flow-3",
        mesh_account_id="mesh-3",
        teacher_name="Мария Ивановна",
        step="Onboarding:greeting",
    )
    record = await sessions.get(7)
    assert record is not None
    assert (
        record.chat_id,
        record.flow_id,
        record.mesh_account_id,
        record.teacher_name,
        record.scenario,
        record.step,
        record.phone_masked,
        record.codes_requested,
        record.last_errors,
    ) == (70, "flow-3", "mesh-3", "Мария Ивановна", None, "Onboarding:greeting", None, 0, [])
    moment = T0 + timedelta(seconds=120)
    assert record.started_at.replace(tzinfo=UTC) == moment
    assert record.step_entered_at.replace(tzinfo=UTC) == moment
    assert record.updated_at.replace(tzinfo=UTC) == moment
    await sessions.record_event(7, EventKind.HANDOFF, step="Link:code", code="x")
    events = await sessions.events(T0, T0 + timedelta(hours=1))
    assert [(e.kind, e.scenario, e.step, e.code) for e in events] == [
        (EventKind.STARTED, None, "Onboarding:welcome", None),
        (EventKind.STEP, "new_profile", "Link:phone", None),
        (EventKind.REFUSAL, "new_profile", "Link:phone", "wrong_code"),
        (EventKind.STARTED, None, "Onboarding:greeting", None),
        (EventKind.HANDOFF, None, "Link:code", "x"),
    ]
    await sessions.close()


async def test_a_shared_writer_commits_both_stores_in_one_transaction(
    factory: async_sessionmaker, sql: SqlLog
) -> None:
    writer = WriteBehind(factory)
    sessions = LinkSessionRepository(factory, clock=Clock(), writer=writer)
    transcript = TranscriptStore(factory, clock=Clock(), writer=writer)
    await begin(sessions, 7)  # written through: its own commit
    sql.commits = 0
    await transcript.record(7, "teacher", "/start")
    await sessions.enter_step(7, "Link:phone")
    await transcript.record(7, "bot", "Номер телефона")
    await transcript.close()  # a store that does not own the writer only flushes it
    await sessions.close()

    assert sql.commits == 1
    assert [e.text for e in await transcript.recent(7)] == ["/start", "Номер телефона"]
    await writer.close()
    async with factory() as db:
        assert await db.scalar(select(func.count()).select_from(AnalyticsEvent)) == 2
