"""Full-scenario benchmark: many teachers concurrently link their accounts through the real bot.

Each simulated teacher opens her deep link and walks scenario A (or B, or registration) to the
success card: the real Dispatcher from `bot.app.build_runtime` (middlewares, dialogs, helpdesk
transcript, FSM storage), the real linking client talking HTTP to the real simulated backend
(in a child process, on 127.0.0.1), a Telegram that answers instantly (tests' FakeTelegram).
A bare aiogram echo bot runs in the same harness, with the same teachers and update counts.

    .venv/bin/python bench/scenario_bench.py --teachers 50 --scenario new_profile
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import itertools
import os
import random
import sys
import tempfile
import time
import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import profile_owners
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.fsm.storage.memory import MemoryStorage
from bench_dialog import build_echo_router
from linking_process import KDF_PROFILES, SCENARIOS, BackendStats, LinkingProcess, link_tokens
from loop_stalls import LoopStalls, where_suspended
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from teacher_walks import STEP_NAMES, WALKS, ReplyClock, TimedPerson, echo_walk

from bot.app import build_dispatcher, build_runtime
from bot.config import Settings
from bot.dialogs.steps import SECRET_STEPS
from bot.gc_tuning import settle_after_startup
from services.linking_client import LinkingClient
from services.storage.link_sessions import LinkSessionRepository

BOT_TOKEN = "4242:BENCH-TOKEN"
FIRST_TEACHER_ID = 20_000_000
STORAGES = ("memory", "sql-sqlite", "sql-postgres")


@dataclass
class BackendWait:
    """Bot-side wall time spent in HTTP calls to the backend (aiohttp request tracing)."""

    seconds: float = 0.0
    calls: int = 0
    each: list[float] = field(default_factory=list)  # every call's wall time
    # Wall time per calling task; weak, so that a finished teacher's task (her coroutine, its
    # context) is not kept alive by the harness (memory_bench.py measures what stays).
    by_task: weakref.WeakKeyDictionary[object, float] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _started: dict[int, float] = field(default_factory=dict)

    def trace_config(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()

        async def start(_s: object, context: object, _p: object) -> None:
            self._started[id(context)] = time.perf_counter()

        async def end(_s: object, context: object, _p: object) -> None:
            started = self._started.pop(id(context), None)
            if started is not None:
                took = time.perf_counter() - started
                self.seconds += took
                self.calls += 1
                self.each.append(took)
                task = asyncio.current_task()
                if task is not None:
                    self.by_task[task] = self.by_task.get(task, 0.0) + took

        config.on_request_start.append(start)
        config.on_request_end.append(end)
        config.on_request_exception.append(end)
        return config


@dataclass
class SqlCount:
    """Statements and commits on the bot's own database (FSM, link sessions, transcript)."""

    statements: int = 0
    commits: int = 0

    def listen(self, engine: AsyncEngine) -> None:
        def statement(*_args: object) -> None:
            self.statements += 1

        def commit(*_args: object) -> None:
            self.commits += 1

        event.listen(engine.sync_engine, "before_cursor_execute", statement)
        event.listen(engine.sync_engine, "commit", commit)


@dataclass
class Result:
    name: str
    teachers: int
    latencies: list[float]
    teacher_seconds: list[float]
    seconds: float
    bot_cpu: float
    backend: BackendStats | None = None
    backend_wait: BackendWait | None = None
    failed: int = 0
    per_step: list[list[float]] = field(default_factory=list)  # [step][teacher] latency
    sql: SqlCount | None = None
    api_calls: Counter[str] = field(default_factory=Counter)  # Bot API methods in the window

    @property
    def updates(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.updates / self.seconds

    def per_update_ms(self, seconds: float) -> float:
        return seconds / max(self.updates, 1) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


# --- the bot under test ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def postgres_url(admin_dsn: str) -> AsyncIterator[str | None]:
    """A throwaway database on the local server, dropped afterwards; None if unreachable."""
    import asyncpg

    name = f"scenario_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"  PostgreSQL unreachable ({error!r}): skipped", file=sys.stderr)
        yield None
        return
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "")
        yield f"postgresql+asyncpg://{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def bot_database(storage: str, args: argparse.Namespace) -> AsyncIterator[str | None]:
    if storage == "sql-postgres":
        async with postgres_url(args.postgres_admin_dsn) as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="scenario-bench-") as directory:
        yield f"sqlite+aiosqlite:///{Path(directory) / 'bot.sqlite3'}"


@dataclass
class BotUnderTest:
    dp: Dispatcher
    bot: Bot
    telegram: ReplyClock
    wait: BackendWait
    sessions: LinkSessionRepository | None = None
    sql: SqlCount | None = None


@contextlib.asynccontextmanager
async def real_bot(
    storage: str, backend_url: str, args: argparse.Namespace, *, telegram_rtt: float = 0.0
) -> AsyncIterator[BotUnderTest | None]:
    """`bot.app.build_runtime` on a fresh database; for "memory" its Dispatcher is rebuilt
    on MemoryStorage (build_runtime always persists dialogs)."""
    async with bot_database(storage, args) as database_url:
        if database_url is None:
            yield None
            return
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            bot_token=BOT_TOKEN,
            linking_api_url=backend_url,
            database_url=database_url,
            redis_url=None,
        )
        wait = BackendWait()
        http = aiohttp.ClientSession(trace_configs=[wait.trace_config()])
        linking = LinkingClient(backend_url, timeout=settings.linking_timeout, session=http)
        telegram = ReplyClock(rtt=telegram_rtt)
        bot = Bot(
            BOT_TOKEN, session=telegram, default=DefaultBotProperties(parse_mode=ParseMode.HTML)
        )
        try:
            async with build_runtime(
                settings, bot=bot, linking=linking, create_tables=True
            ) as runtime:
                dp = runtime.dp
                if storage == "memory":
                    helpdesk = runtime.dp["helpdesk"]
                    dp = build_dispatcher(
                        settings,
                        storage=MemoryStorage(),
                        linking=linking,
                        sessions=runtime.sessions,
                        i18n=runtime.i18n,
                        helpdesk=helpdesk,
                    )
                    helpdesk.install_dispatcher(dp, secret_steps=SECRET_STEPS)
                sql = SqlCount()
                sql.listen(runtime.engine)
                try:
                    yield BotUnderTest(dp, runtime.bot, telegram, wait, runtime.sessions, sql)
                finally:
                    if dp is not runtime.dp:  # the runtime stops its own countdowns
                        await dp["countdowns"].close()
        finally:
            await http.close()


@contextlib.asynccontextmanager
async def echo_bot(rtt: float = 0.0) -> AsyncIterator[BotUnderTest]:
    telegram = ReplyClock(rtt=rtt)
    bot = Bot(BOT_TOKEN, session=telegram, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    dp = Dispatcher(storage=MemoryStorage())
    dp.include_router(build_echo_router())
    yield BotUnderTest(dp, bot, telegram, BackendWait())


# --- one run --------------------------------------------------------------------------------


def people(
    under_test: BotUnderTest,
    count: int,
    latencies: list[float],
    pause: Callable[[], float] | None = None,
    starts: list[float] | None = None,
) -> list[TimedPerson]:
    return [
        TimedPerson(
            under_test.dp,
            under_test.bot,
            under_test.telegram,
            user_id=FIRST_TEACHER_ID + index,
            first_name="Анна",
            latencies=latencies,
            pause=pause,
            starts=starts,
        )
        for index in range(count)
    ]


async def timed_gather(
    coroutines: list, limit: float, profiler: cProfile.Profile | None = None
) -> tuple[list, float, float]:
    """The coroutines' outcomes, wall and process CPU seconds; `profiler` runs over the same
    window (after the collection that starts it)."""
    gc.collect()
    cpu = time.process_time()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    try:
        async with asyncio.timeout(limit):  # bounded: a stuck run fails instead of hanging
            outcomes = await asyncio.gather(*coroutines, return_exceptions=True)
    finally:
        if profiler is not None:
            profiler.disable()
    return outcomes, time.perf_counter() - started, time.process_time() - cpu


async def run_scenario(
    name: str,
    scenario: str,
    storage: str,
    backend: LinkingProcess,
    harness: LinkingClient,
    args: argparse.Namespace,
    teachers: int,
) -> Result | None:
    walk, _updates = WALKS[scenario]
    accounts = backend.seed(scenario, teachers)
    async with real_bot(
        storage, backend.url, args, telegram_rtt=args.telegram_rtt / 1000
    ) as under_test:
        if under_test is None:
            return None
        tokens = await link_tokens(harness, accounts)
        latencies: list[float] = []
        persons = people(under_test, teachers, latencies)
        if args.transcripts:
            under_test.telegram.record()

        async def teacher_run(person: TimedPerson, index: int) -> float:
            started = time.perf_counter()
            await walk(person, accounts[index], tokens[index], harness)
            return time.perf_counter() - started

        before = backend.stats()
        assert under_test.sql is not None
        sql_before = (under_test.sql.statements, under_test.sql.commits)
        calls_before = len(under_test.telegram.calls)
        outcomes, seconds, cpu = await timed_gather(
            [teacher_run(person, i) for i, person in enumerate(persons)],
            args.timeout,
            args.window_profiler,
        )
        used = backend.stats() - before
        sql = SqlCount(
            under_test.sql.statements - sql_before[0], under_test.sql.commits - sql_before[1]
        )
        api_calls = method_names(under_test.telegram.calls[calls_before:])
        for index, person in enumerate(persons):
            if isinstance(outcomes[index], float) and not await linked(under_test, harness, person):
                text = person.last_text[:160]
                outcomes[index] = RuntimeError(f"not linked; bot: {text!r}")
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    report_failures(name, outcomes, persons, under_test.telegram, args)
    return Result(
        name=name,
        teachers=teachers,
        latencies=latencies,
        teacher_seconds=[o for o in outcomes if isinstance(o, float)],
        seconds=seconds,
        bot_cpu=cpu,
        backend=used,
        backend_wait=under_test.wait,
        sql=sql,
        api_calls=api_calls,
        failed=len(failures),
        per_step=[
            [value for value in step if value is not None]
            for step in itertools.zip_longest(*(p.own_latencies for p in persons))
        ],
    )


@dataclass
class OpenResult:
    """One open-loop run: teachers pause like people, the offered rate is fixed."""

    name: str
    rate: float  # offered, updates/s
    latencies: list[float]
    replies: list[float]
    seconds: float
    bot_cpu: float
    backend: BackendStats
    failed: int
    starts: list[float] = field(default_factory=list)
    per_step: list[list[float]] = field(default_factory=list)

    @property
    def achieved(self) -> float:
        """Updates/s between the 10th and the 90th percentile of their start times (the steady
        part: without the first pauses and the last teachers finishing alone)."""
        ordered = sorted(self.starts)
        if len(ordered) < 10:
            return len(self.latencies) / self.seconds
        low, high = ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]
        return (len(ordered) * 0.8) / max(high - low, 1e-9)


async def run_open_loop(
    scenario: str,
    storage: str,
    rate: float,
    backend: LinkingProcess,
    harness: LinkingClient,
    args: argparse.Namespace,
) -> OpenResult | None:
    """`--open-teachers` teachers at once, each pausing before every update for a random time
    (gamma, shape 4: rarely very short or very long) whose mean makes the total `rate`; the
    first pause spreads their starts. Latency is measured per update, never per teacher."""
    teachers = args.open_teachers
    walk, _updates = WALKS[scenario]
    think = teachers / rate  # mean seconds between two updates of one teacher
    chance = random.Random(f"{scenario}/{storage}/{rate}")  # the same pauses in every run

    def pause() -> float:
        return chance.gammavariate(4.0, think / 4.0)

    accounts = backend.seed(scenario, teachers)
    async with real_bot(
        storage, backend.url, args, telegram_rtt=args.telegram_rtt / 1000
    ) as under_test:
        if under_test is None:
            return None
        tokens = await link_tokens(harness, accounts)
        latencies: list[float] = []
        starts: list[float] = []
        persons = people(under_test, teachers, latencies, pause, starts)
        if args.transcripts:
            under_test.telegram.record()
        before = backend.stats()
        stalls: LoopStalls | None = args.stall_recorder
        if stalls is not None:
            stalls.reset()
        under_test.wait.each.clear()
        split: list[tuple[float, float, float, int]] = []  # (reply, own, backend HTTP, step)
        through: list[tuple[float, float]] = []  # (reply, of which in write-through commits)
        if stalls is not None:
            split_replies(under_test, stalls, split, through)
        outcomes, seconds, cpu = await timed_gather(
            [walk(p, accounts[i], tokens[i], harness) for i, p in enumerate(persons)],
            args.timeout,
        )
        used = backend.stats() - before
        if stalls is not None:
            if stalls.sampler is not None:
                stalls.sampler.cancel()
            stalls.report(f"open loop {scenario} / {storage} at {rate:g} upd/s", seconds)
            each = under_test.wait.each
            print(
                f"  the bot's HTTP calls to the backend: {len(each)}, p50"
                f" {percentile(each, 0.5) * 1000:.1f} ms, p99 {percentile(each, 0.99) * 1000:.1f}"
                f" ms, max {max(each, default=0) * 1000:.1f} ms (wall time, queueing included)"
            )
            report_split(split, scenario)
            slowest = sorted(through)[int(len(through) * 0.99) :]
            if slowest:
                waited = sum(w for _, w in slowest) / len(slowest) * 1000
                print(
                    f"  of which the slowest 1 % waited for write-through commits (link sessions'"
                    f" wait=True): {waited:.1f} ms on average"
                )
            under_test.telegram.on_feed = under_test.telegram.on_reply = None
        for index, person in enumerate(persons):
            if not isinstance(outcomes[index], BaseException) and not await linked(
                under_test, harness, person
            ):
                outcomes[index] = RuntimeError(f"not linked; bot: {person.last_text[:160]!r}")
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    report_failures(f"open loop {rate:g}/s", outcomes, persons, under_test.telegram, args)
    return OpenResult(
        name=f"{scenario} / {storage}",
        rate=rate,
        latencies=latencies,
        replies=under_test.telegram.replies,
        seconds=seconds,
        bot_cpu=cpu,
        backend=used,
        failed=len(failures),
        starts=starts,
        per_step=[
            [value for value in step if value is not None]
            for step in itertools.zip_longest(*(p.own_latencies for p in persons))
        ],
    )


def report_failures(
    name: str,
    outcomes: list[Any],
    persons: list[TimedPerson],
    telegram: ReplyClock,
    args: argparse.Namespace,
) -> None:
    """Every failure counted by its message; with `--transcripts N`, the chats of N failed
    teachers, the first of each kind first: what she sent, what the bot sent or edited there,
    in order, timed."""
    failed = [
        (p, o) for p, o in zip(persons, outcomes, strict=True) if isinstance(o, BaseException)
    ]
    if not failed:
        return
    print(f"  {name}: {len(failed)} failed", file=sys.stderr)

    def kind(error: BaseException) -> str:
        return f"{type(error).__name__}: {str(error)[:200]}"

    kinds = Counter(kind(error) for _, error in failed)
    for name_, count in kinds.most_common():
        print(f"    {count} × {name_}", file=sys.stderr)
    if telegram.transcripts is None:
        return
    firsts = list({kind(error): (p, error) for p, error in reversed(failed)}.values())[::-1]
    shown = firsts + [f for f in failed if f not in firsts]
    for person, error in shown[: args.transcripts]:
        print(f"  teacher {person.chat.id} failed: {error!r}"[:400], file=sys.stderr)
        for line in telegram.transcripts.get(person.chat.id, []):
            print(f"    {line}", file=sys.stderr)
        on_screen = [
            f"#{m.message_id} {(m.text or m.caption or '').splitlines()[0][:50]!r}"
            f" {person.buttons(m)}"
            for m in person.bot_messages()[-4:]
        ]
        print("    the chat ends with: " + "; ".join(on_screen), file=sys.stderr)


def split_replies(
    under_test: BotUnderTest,
    stalls: LoopStalls,
    split: list[tuple[float, float, float, int]],
    write_through: list[tuple[float, float]],
) -> None:
    """Per reply: its own tasks' loop time ("work") and the backend's HTTP answers; the rest is
    waiting for the loop (other tasks' steps) or for a lock / a commit."""
    marks: dict[object, tuple[float, float]] = {}
    steps: dict[object, int] = {}  # a walk's task: its teacher's updates so far
    through: dict[object, float] = {}  # a task's time in write-through submissions (wait=True)
    writer = under_test.sessions.writer if under_test.sessions is not None else None
    if writer is not None and "submit" not in vars(writer):
        submit = writer.submit

        async def timed_submit(*args: Any, **kwargs: Any) -> None:
            if not kwargs.get("wait"):
                return await submit(*args, **kwargs)
            started = time.perf_counter()
            try:
                return await submit(*args, **kwargs)
            finally:
                task = asyncio.current_task()
                through[task] = through.get(task, 0.0) + time.perf_counter() - started

        writer.submit = timed_submit  # type: ignore[method-assign]

    chats: dict[object, int] = {}

    def on_feed(chat: int) -> None:
        task = asyncio.current_task()
        chats[task] = chat
        marks[task] = (stalls.own.get(task, 0.0), under_test.wait.by_task.get(task, 0.0))
        steps[task] = steps.get(task, -1) + 1
        through[task] = 0.0

    def on_reply(elapsed: float) -> None:
        task = asyncio.current_task()
        mark = marks.pop(task, None)
        if mark is None:  # sent by another task (a countdown's edit): all of it is "waiting"
            split.append((elapsed, 0.0, 0.0, -1))
            write_through.append((elapsed, 0.0))
            return
        own = stalls.own.get(task, 0.0) - mark[0]
        http = under_test.wait.by_task.get(task, 0.0) - mark[1]
        split.append((elapsed, own, http, steps[task]))
        write_through.append((elapsed, through.get(task, 0.0)))

    under_test.telegram.on_feed, under_test.telegram.on_reply = on_feed, on_reply

    async def sample_waits() -> None:
        """Every 10 ms: where each update still without a reply after 50 ms is suspended."""
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            for task in list(marks):
                chat = chats.get(task)
                started = under_test.telegram.waiting.get(chat) if chat is not None else None
                if started is None or now - started < 0.05 or not hasattr(task, "get_stack"):
                    continue
                stalls.waits[where_suspended(task)] += 1

    stalls.sampler = asyncio.get_running_loop().create_task(sample_waits())


def report_split(split: list[tuple[float, float, float, int]], scenario: str) -> None:
    if not split:
        return
    ordered = sorted(split)
    slowest = ordered[int(len(ordered) * 0.99) :]
    for name, part in (("all", ordered), ("slowest 1 %", slowest)):
        n = len(part)
        reply = sum(r for r, _, _, _ in part) / n * 1000
        own = sum(o for _, o, _, _ in part) / n * 1000
        http = sum(b for _, _, b, _ in part) / n * 1000
        print(
            f"  replies, {name} ({n}): mean {reply:.1f} ms = own steps {own:.1f} + backend HTTP"
            f" {http:.1f} + waiting for the loop / locks / commits {reply - own - http:.1f}"
        )
    names = STEP_NAMES[scenario]
    by_step = Counter(names[step] if 0 <= step < len(names) else "?" for *_, step in slowest)
    print(
        "  slowest 1 % by step: " + ", ".join(f"{n} × {name}" for name, n in by_step.most_common())
    )


def report_open_loop(results: list[OpenResult], teachers: int) -> None:
    print(f"\nopen loop: {teachers} teachers pausing between steps (gamma, shape 4); latency in ms")
    print(
        f"{'run':<30}{'offered':>8}{'achieved':>9}{'updates':>8}"
        f"{'feed p50':>9}{'p99':>8}{'reply p50':>10}{'p99':>8}{'bot CPU':>8}{'backend':>8}"
        f"{'failed':>7}"
    )
    for r in results:
        updates = max(len(r.latencies), 1)
        print(
            f"{r.name:<30}{r.rate:>8.0f}{r.achieved:>9.1f}{len(r.latencies):>8}"
            f"{percentile(r.latencies, 0.5) * 1000:>9.1f}"
            f"{percentile(r.latencies, 0.99) * 1000:>8.1f}"
            f"{percentile(r.replies, 0.5) * 1000:>10.1f}"
            f"{percentile(r.replies, 0.99) * 1000:>8.1f}"
            f"{r.bot_cpu / updates * 1000:>8.2f}{r.backend.cpu_seconds / updates * 1000:>8.2f}"
            f"{r.failed:>7}"
        )
    print(
        "offered / achieved: updates/s; feed = Dispatcher.feed_update; reply = from the update"
        " to the first message the bot sends or edits in her chat; CPU in ms per update."
    )


async def run_echo(name: str, updates: int, teachers: int, args: argparse.Namespace) -> Result:
    async with echo_bot(args.telegram_rtt / 1000) as under_test:
        latencies: list[float] = []
        persons = people(under_test, teachers, latencies)
        if args.transcripts:
            under_test.telegram.record()

        async def teacher_run(person: TimedPerson) -> float:
            started = time.perf_counter()
            await echo_walk(person, updates)
            return time.perf_counter() - started

        outcomes, seconds, cpu = await timed_gather(
            [teacher_run(person) for person in persons], args.timeout, args.window_profiler
        )
        api_calls = method_names(under_test.telegram.calls)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    return Result(
        name=name,
        teachers=teachers,
        latencies=latencies,
        teacher_seconds=[o for o in outcomes if isinstance(o, float)],
        seconds=seconds,
        bot_cpu=cpu,
        failed=len(failures),
        api_calls=api_calls,
    )


def method_names(calls: list[Any]) -> Counter[str]:
    return Counter(type(call).__name__ for call in calls)


async def linked(under_test: BotUnderTest, harness: LinkingClient, person: TimedPerson) -> bool:
    """Asked of the backend, not read from the chat: the teacher's flow ended `linked`."""
    assert under_test.sessions is not None
    record = await under_test.sessions.get(person.user.id)
    if record is None or record.flow_id is None:
        return False
    # The backend answers a flow to the teacher who opened it only.
    return (await harness.for_user(person.user.id).get_flow(record.flow_id)).state == "linked"


def best(runs: list[Result]) -> Result:
    """The fastest run: the machine is shared, other jobs only ever slow a run down."""
    return max(runs, key=lambda result: (result.failed == 0, result.rate))


# --- report ---------------------------------------------------------------------------------


def report(results: list[Result], echo_by_updates: dict[str, Result]) -> None:
    columns = ("upd/s", "p50", "p99", "teacher", "vs", "bot", "backend", "argon2", "waitBE", "SQL")
    units = ("", "ms", "ms", "s p50/max", "echo", "CPU", "CPU", "", "", "stm/tx")
    print()
    widths = (7, 9, 9, 12, 7, 8, 8, 8, 8, 9)
    heads = "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(f"{'run':<30}{heads}{'failed':>8}")
    print(f"{'':<30}" + "".join(f"{u:>{w}}" for u, w in zip(units, widths, strict=True)))
    for result in results:
        echo = echo_by_updates.get(result.name)
        vs_echo = f"{result.rate / echo.rate:.2f}" if echo and echo is not result else "1.00"
        backend = result.backend
        wait = result.backend_wait
        teacher = (
            f"{percentile(result.teacher_seconds, 0.5):.2f}/{max(result.teacher_seconds):.2f}"
            if result.teacher_seconds
            else "-"
        )
        print(
            f"{result.name:<30}{result.rate:>7.0f}"
            f"{percentile(result.latencies, 0.5) * 1000:>9.1f}"
            f"{percentile(result.latencies, 0.99) * 1000:>9.1f}"
            f"{teacher:>12}{vs_echo:>7}"
            f"{result.per_update_ms(result.bot_cpu):>8.2f}"
            f"{result.per_update_ms(backend.cpu_seconds) if backend else 0:>8.2f}"
            f"{result.per_update_ms(backend.argon2_seconds) if backend else 0:>8.2f}"
            f"{result.per_update_ms(wait.seconds) if wait and wait.calls else 0:>8.1f}"
            f"{sql_column(result):>9}"
            f"{result.failed:>8}"
        )


def sql_column(result: Result) -> str:
    if result.sql is None:
        return "-"
    updates = max(result.updates, 1)
    return f"{result.sql.statements / updates:.1f}/{result.sql.commits / updates:.1f}"


def report_steps(result: Result | OpenResult, scenario: str) -> None:
    print(f"\nper step, {result.name}:  p50 ms   p99 ms")
    for name, values in zip(STEP_NAMES[scenario], result.per_step, strict=False):
        p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
        print(f"  {name:<34}{p50:>8.2f} {p99:>8.2f}")


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    return "?"


async def main(args: argparse.Namespace) -> int:
    results: list[Result] = []
    echo_for: dict[str, Result] = {}
    owners = ""  # --profile-owners' report
    print(f"  load average before: {load_average()}", file=sys.stderr)
    args.stall_recorder = None
    args.window_profiler = None  # set by --profile-owners around its own runs only
    if args.stalls:
        args.stall_recorder = LoopStalls(args.stalls / 1000)
        args.stall_recorder.install(asyncio.get_running_loop())
    with LinkingProcess(kdf=args.kdf) as backend:
        async with LinkingClient(backend.url, timeout=60) as harness:
            # Warm-up, not reported: first-use costs (catalogs, pydantic, dialog caches).
            await run_scenario("warm-up", args.scenario[0], "memory", backend, harness, args, 5)
            if args.gc == "settled":  # as the bot's entry points do after start-up
                settle_after_startup()
            if args.open_loop:
                return await open_loop_main(args, backend, harness)
            for scenario in args.scenario:
                updates = WALKS[scenario][1]
                echo_name = f"echo × {updates} updates"
                print(f"  running {echo_name} …", file=sys.stderr)
                echo = best(
                    [
                        await run_echo(echo_name, updates, args.teachers, args)
                        for _ in range(args.repeat)
                    ]
                )
                results.append(echo)
                for storage in args.storage:
                    name = f"{scenario} / {storage}"
                    print(f"  running {name} …", file=sys.stderr)
                    runs = []
                    for _ in range(args.repeat):
                        run = await run_scenario(
                            name, scenario, storage, backend, harness, args, args.teachers
                        )
                        if run is None:
                            break
                        runs.append(run)
                    if runs:
                        results.append(best(runs))
                        echo_for[name] = echo
                echo_for[echo_name] = echo
            if args.profile:
                await profile_run(args, backend, harness)
            if args.profile_owners:
                owners = await profile_owners_run(args, backend, harness, results)
    print(
        f"{args.teachers} teachers concurrently, each to the success card; best of {args.repeat};"
        f" backend argon2 profile: {args.kdf}; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; gc {args.gc}; load average after: {load_average()}"
    )
    report(results, echo_for)
    if args.steps:
        for result in results:
            if result.per_step:
                report_steps(result, result.name.split(" / ")[0])
    if args.profile_owners:
        print(owners)
    print(
        "\nteacher: seconds from /start to the success card. Per update, in ms: bot CPU = this"
        " process (bot + harness); backend CPU = the backend process, of which argon2 = password"
        " hashing; waitBE = bot-side wall time in HTTP calls to the backend. SQL: statements"
        " / commits per update on the bot's database."
    )
    return 1 if any(result.failed for result in results) else 0


async def open_loop_main(
    args: argparse.Namespace, backend: LinkingProcess, harness: LinkingClient
) -> int:
    results: list[OpenResult] = []
    for scenario in args.scenario:
        for storage in args.storage:
            for rate in args.open_loop:
                print(f"  open loop {scenario} / {storage} at {rate:g} upd/s …", file=sys.stderr)
                run = await run_open_loop(scenario, storage, rate, backend, harness, args)
                if run is not None:
                    results.append(run)
    print(
        f"backend argon2 profile: {args.kdf}; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; gc {args.gc}; load average after: {load_average()}"
    )
    report_open_loop(results, args.open_teachers)
    if args.steps:
        for result in results:
            result.name = f"{result.name} at {result.rate:g}/s"
            report_steps(result, args.scenario[0])  # type: ignore[arg-type]
    return 1 if any(result.failed for result in results) else 0


async def profile_run(args: argparse.Namespace, backend: LinkingProcess, harness: LinkingClient):  # type: ignore[no-untyped-def]
    """One more run of the first scenario on the first storage under pyinstrument."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    backend.profile(None)  # the backend process profiles itself over the same run
    profiler.start()
    scenario, storage = args.scenario[0], args.storage[0]
    await run_scenario("profiled", scenario, storage, backend, harness, args, args.teachers)
    profiler.stop()
    backend_path = f"{args.profile}.backend.txt"
    backend.profile(backend_path)
    text = (
        profiler.output_text(unicode=True)
        + "\n\nself time per function:\n"
        # show_all: library frames listed with their own self time; hidden, their time would be
        # charged to the nearest shown frame.
        + profiler.output_text(unicode=True, flat=True, flat_time="self", show_all=True)
    )
    await asyncio.to_thread(Path(args.profile).write_text, text)
    print(
        f"  profile of {scenario} / {storage} written to {args.profile} (bot) and"
        f" {backend_path} (backend)",
        file=sys.stderr,
    )


async def profile_owners_run(
    args: argparse.Namespace,
    backend: LinkingProcess,
    harness: LinkingClient,
    results: list[Result],
) -> str:
    """One more echo run and one more run of the first scenario on the first storage, each under
    cProfile over its timed window; their self time by owner, side by side (profile_owners.py)."""
    scenario, storage = args.scenario[0], args.storage[0]
    updates = WALKS[scenario][1]
    columns: dict[str, tuple[profile_owners.Owners, int]] = {}
    runs: list[Result | None] = []
    for name in (f"echo × {updates} updates", f"{scenario} / {storage}"):
        print(f"  profiling {name} by owner …", file=sys.stderr)
        # The loop thread's CPU clock, not cProfile's default wall clock: a function preempted
        # by the backend process or other jobs, or blocked in a syscall, is not charged the wait.
        args.window_profiler = cProfile.Profile(time.thread_time)
        try:
            if name.startswith("echo"):
                run: Result | None = await run_echo(name, updates, args.teachers, args)
            else:
                run = await run_scenario(
                    name, scenario, storage, backend, harness, args, args.teachers
                )
            stats = profile_owners.profile_stats(args.window_profiler)
        finally:
            args.window_profiler = None
        if run is not None:
            columns[name] = (profile_owners.by_owner(stats), run.updates)
            runs.append(run)
    unprofiled = {r.name: r.per_update_ms(r.bot_cpu) for r in results if r.name in columns}
    profiled = ", ".join(f"{r.name} {r.per_update_ms(r.bot_cpu):.2f}" for r in runs if r)
    methods = "\n".join(
        f"  {r.name}: "
        + ", ".join(f"{name} {n / max(r.updates, 1):.2f}" for name, n in r.api_calls.most_common())
        for r in runs
        if r
    )
    return (
        "\nself CPU time by owner, cProfile on the loop thread's CPU clock over each run's timed"
        " window (one run each, after the measured ones); a C function's time and calls go to its"
        " Python callers' owners; per update: ms, Python + C calls, and est. = ms less cProfile's"
        " cost per call (the run's profiled total less its CPU without the profiler, over its"
        " calls).\nprocess CPU per update in the profiled runs (all threads, with the profiler),"
        f" ms: {profiled}\n"
        + profile_owners.report(columns, unprofiled)
        + f"\nBot API calls per update, by method:\n{methods}"
    )


def comma_list(choices: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def parse(value: str) -> list[str]:
        items = [item for item in value.split(",") if item]
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}")
        return items

    return parse


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--teachers", type=int, default=50, help="concurrent teachers")
    parser.add_argument(
        "--scenario",
        type=comma_list(SCENARIOS),
        default=["new_profile"],
        help="comma-separated: " + ",".join(SCENARIOS),
    )
    parser.add_argument(
        "--storage",
        type=comma_list(STORAGES),
        default=list(STORAGES),
        help="comma-separated FSM storages: " + ",".join(STORAGES),
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    parser.add_argument(
        "--kdf",
        choices=KDF_PROFILES,
        default="seed",
        help="backend argon2id cost: the seed settings (64 MiB, 3 passes) or the tests' light one",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run at most")
    parser.add_argument("--steps", action="store_true", help="also show latency per step")
    parser.add_argument(
        "--open-loop",
        type=lambda value: [float(rate) for rate in value.split(",") if rate],
        help="instead of the closed loop: offered rates in updates/s, e.g. 20,60,120",
    )
    parser.add_argument(
        "--open-teachers", type=int, default=200, help="teachers in the open loop (200)"
    )
    parser.add_argument(
        "--stalls",
        type=float,
        metavar="MS",
        help="open loop: record every loop step that held the event loop ≥ MS ms (what ran, where)",
    )
    parser.add_argument(
        "--transcripts",
        type=int,
        default=0,
        metavar="N",
        help="record every chat, and print the first N failed teachers' transcripts",
    )
    parser.add_argument(
        "--telegram-rtt",
        type=float,
        default=0.0,
        metavar="MS",
        help="a round trip to Telegram for every Bot API call (0: Telegram answers instantly);"
        " the reply reaches her chat half of it after the call",
    )
    parser.add_argument("--profile", help="write a pyinstrument profile of one extra run here")
    parser.add_argument(
        "--profile-owners",
        action="store_true",
        help="one extra echo run and one of the first scenario / storage under cProfile:"
        " self time by owner (aiogram, pydantic, ours …) side by side",
    )
    parser.add_argument(
        "--gc",
        choices=("settled", "default"),
        default="settled",
        help="after the warm-up, settle the collector as `python -m bot` does (bot/gc_tuning.py)"
        " or keep CPython's defaults",
    )
    parser.add_argument(
        "--postgres-admin-dsn",
        default=os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    if args.open_loop and (args.profile or args.profile_owners):
        parser.error(
            "--profile and --profile-owners profile closed-loop runs; not with --open-loop"
        )
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
