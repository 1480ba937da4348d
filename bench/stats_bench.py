"""/stats and /export over many teachers: how long the figures take, on SQLite and PostgreSQL.

Seeds generated teachers (bench/stats_data.py: a realistic funnel with give-ups, returns,
recoveries, refusals, handoffs, ratings, and their tickets) into a SQLite file and a throwaway
PostgreSQL database, then times, best of `--repeat`:
- `backfill`: the first catch-up of the funnel facts (services/analytics/facts.py): every
  teacher's facts from her events, once (later reports catch up only what is new); on
  PostgreSQL with the VACUUM ANALYZE `python -m bot migrate` runs after it;
- `funnel`: the funnel as /stats and /export read it (services/analytics: the facts, caught
  up first), over a period holding every event;
- `7d`: the funnel of the last 7 days, which cuts many teachers in two (read from their
  events; the others from their facts);
- `+1% funnel`: the funnel after 1 % more teachers' events were written (caught up first);
- `events`: the same figures from every event of the period (the previous statement), once;
  the bench checks that both reports are equal;
- `helpdesk`: the helpdesk figures of /stats (first response, backlog, operators, weeks);
- `csv`: /export's CSV from the report; `chart`: the PNG (matplotlib, in a worker thread);
- `funnel cpu`: the process CPU time of that run: all of the work on SQLite (in this process),
  only the client's share on PostgreSQL; a shared machine slows the wall time, not this;
- `/stats` = funnel + helpdesk + chart, `/export` = funnel + csv: what an admin waits for;
- `before`: the previous way (every event of the period as an ORM object, then Python), once.

    .venv/bin/python bench/stats_bench.py                     # 100,000 teachers
    .venv/bin/python bench/stats_bench.py --teachers 20000 --only sqlite --no-before
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from stats_data import Dataset, generate, insert_dataset

from services.analytics import Period, funnel_chart_png, funnel_csv, load_funnel
from services.analytics.facts import catch_up, tidy
from services.helpdesk.stats import load_helpdesk_report
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.models import AnalyticsEvent

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
SPREAD = timedelta(days=28)
NOW = START + SPREAD + timedelta(days=1)
PERIOD = Period(START - timedelta(days=1), NOW, "30d")
WEEK = Period(NOW - timedelta(days=7), NOW, "7d")


def step_order() -> tuple[str, ...]:
    from bot.dialogs.steps import STEP_ORDER

    return STEP_ORDER


CPU: dict[str, float] = {}  # process CPU seconds of the best run, by figure


async def best_of(
    repeat: int, run: Callable[[], Awaitable[Any]], name: str = ""
) -> tuple[float, Any]:
    """Fastest wall time of `repeat` runs; that run's process CPU time goes to CPU[name]
    (the whole work for SQLite, which runs in this process; the client's share for PostgreSQL).
    """
    best, result = float("inf"), None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = await run()
        wall = time.perf_counter() - started
        if wall < best:
            best, CPU[name] = wall, time.process_time() - cpu
    return best, result


async def measure(engine: AsyncEngine, args: argparse.Namespace) -> dict[str, float]:
    sessions = create_session_factory(engine)
    order = step_order()

    async def funnel():  # type: ignore[no-untyped-def]
        async with sessions() as db:
            return await load_funnel(db, PERIOD, step_order=order)

    async def helpdesk():  # type: ignore[no-untyped-def]
        async with sessions() as db:
            return await load_helpdesk_report(db, PERIOD, now=NOW)

    times: dict[str, float] = {}
    started = time.perf_counter()
    async with engine.begin() as connection:  # the backfill: every teacher's facts
        await catch_up(connection)
    await tidy(engine)  # PostgreSQL: VACUUM ANALYZE, as `python -m bot migrate` does after it
    times["backfill"] = time.perf_counter() - started
    times["funnel"], report = await best_of(args.repeat, funnel, "funnel")
    times["funnel cpu"] = CPU["funnel"]
    times["helpdesk"], _ = await best_of(args.repeat, helpdesk)

    async def csv() -> str:
        return funnel_csv(report)

    async def chart() -> bytes:
        return await asyncio.to_thread(funnel_chart_png, report, title="bench")

    await chart()  # the first chart imports matplotlib: paid once per process, not per /stats
    times["csv"], _ = await best_of(args.repeat, csv)
    times["chart"], _ = await best_of(args.repeat, chart)
    times["/stats"] = times["funnel"] + times["helpdesk"] + times["chart"]
    times["/export"] = times["funnel"] + times["csv"]

    async def week():  # type: ignore[no-untyped-def]
        async with sessions() as db:
            return await load_funnel(db, WEEK, step_order=order)

    # The last 7 days cut many teachers in two: theirs from their events, the others' facts.
    times["7d"], _ = await best_of(args.repeat, week)
    if args.events:

        async def events():  # type: ignore[no-untyped-def]
            async with sessions() as db:
                return await load_funnel(db, PERIOD, step_order=order, facts=False)

        times["events"], from_events = await best_of(1, events)
        if from_events != report:  # tests/analytics holds both to the Python reference
            print(f"  {engine.dialect.name}: the report from the events differs", file=sys.stderr)
    if args.before:
        times["before"], _ = await best_of(1, lambda: before(sessions, order))
    # 1 % more teachers written after the last report: the next one catches them up first.
    newcomers = generate(
        max(1, args.teachers // 100),
        start=NOW - timedelta(hours=12),
        spread=timedelta(hours=6),
        seed=args.seed + 1,
        first_user=args.teachers + 1,
    )
    async with engine.begin() as connection:
        await insert_dataset(connection, Dataset(events=newcomers.events), now=NOW)
    times["+1% funnel"], _ = await best_of(1, funnel)
    return times


async def before(sessions, order) -> Any:  # type: ignore[no-untyped-def]
    """The funnel as /stats computed it before: every event as an ORM object, then Python."""
    sys.path.insert(0, str(ROOT))
    from tests.analytics.reference import reference_funnel

    since, until = PERIOD.utc_bounds
    async with sessions() as db:
        events = list(
            await db.scalars(
                select(AnalyticsEvent)
                .where(AnalyticsEvent.at >= since, AnalyticsEvent.at < until)
                .order_by(AnalyticsEvent.at, AnalyticsEvent.id)
            )
        )
    return reference_funnel(events, PERIOD, step_order=order)


@asynccontextmanager
async def sqlite_engine(_args: argparse.Namespace) -> AsyncIterator[AsyncEngine | None]:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'stats.sqlite3'}")
        try:
            yield engine
        finally:
            await engine.dispose()


@asynccontextmanager
async def postgres_engine(args: argparse.Namespace) -> AsyncIterator[AsyncEngine | None]:
    """A throwaway database on the local server; None if the server is not reachable."""
    import asyncpg

    name = f"stats_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = await asyncpg.connect(args.postgres_admin_dsn, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        print(f"  PostgreSQL unreachable ({error!r}): skipped", file=sys.stderr)
        yield None
        return
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = args.postgres_admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "")
        engine = create_engine(f"postgresql+asyncpg://{base}/{name}")
        try:
            yield engine
        finally:
            await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


BACKENDS = {"sqlite": sqlite_engine, "postgres": postgres_engine}
COLUMNS = (
    "backfill",
    "funnel",
    "funnel cpu",
    "helpdesk",
    "csv",
    "chart",
    "/stats",
    "/export",
    "7d",
    "+1% funnel",
    "events",
    "before",
)


async def seed(engine: AsyncEngine, dataset: Dataset) -> float:
    started = time.perf_counter()
    await create_all(engine)
    async with engine.begin() as connection:
        await insert_dataset(connection, dataset, now=NOW)
    if engine.dialect.name == "postgresql":
        # Committed: an ANALYZE in a transaction rolled back leaves no statistics behind (the
        # bench's server runs without autovacuum).
        async with engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")
    async with engine.connect() as connection:
        stored = await connection.scalar(select(func.count()).select_from(AnalyticsEvent))
    assert stored == len(dataset.events)
    return time.perf_counter() - started


async def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    dataset = generate(args.teachers, start=START, spread=SPREAD, seed=args.seed)
    print(
        f"{args.teachers:,} teachers: {len(dataset.events):,} events, "
        f"{len(dataset.tickets):,} tickets (generated in {time.perf_counter() - started:.1f} s); "
        f"best of {args.repeat}; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    print(f"{'backend':10}" + "".join(f"{c:>11}" for c in COLUMNS) + "   (seconds)")
    for name in args.only:
        async with BACKENDS[name](args) as engine:
            if engine is None:
                continue
            seeded = await seed(engine, dataset)
            times = await measure(engine, args)
            cells = "".join(f"{times[c]:>11.3f}" if c in times else f"{'—':>11}" for c in COLUMNS)
            print(f"{name:10}{cells}   (seeded in {seeded:.1f} s)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--teachers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; best is shown")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only", default="sqlite,postgres", type=lambda value: value.split(","), help="backends"
    )
    parser.add_argument(
        "--no-events", dest="events", action="store_false", help="skip the report from events"
    )
    parser.add_argument(
        "--no-before", dest="before", action="store_false", help="skip the old Python way"
    )
    parser.add_argument(
        "--postgres-admin-dsn",
        default=os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
        help="database to connect to for creating the throwaway bench database",
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
