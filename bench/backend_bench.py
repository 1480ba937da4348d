"""The linking backend alone: scenario A's backend calls, its CPU per update and SQL per call.

No bot: each simulated teacher makes the calls the bot and the harness make for her in
scenario A (`/start` → flow, the flow read back, phone, password, the code from the dev inbox,
the code, personal data, consent, the flow read by the harness), all teachers at once, against
the real backend in a child process (`linking_process.py`, light argon2). The backend's CPU is
divided by scenario A's 13 updates, so the figure compares with `scenario_bench.py`'s
"backend CPU" column, without the bot's share of the machine.

`--sql` instead walks one teacher against a backend in this process and prints the SQL
statements each call ran (deterministic: the count does not depend on the machine).

    .venv/bin/python bench/backend_bench.py                 # 50 teachers, best of 3 rounds
    .venv/bin/python bench/backend_bench.py --sql
    .venv/bin/python bench/backend_bench.py --calls /tmp/backend.pstats   # function calls
    .venv/bin/python bench/backend_bench.py --open-loop 45   # HTTP latency, calls at 45/s
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from linking_process import BenchTeacher, LinkingProcess, _seed, link_tokens

from services.linking_client import LinkingClient

UPDATES = 13  # scenario A's updates per teacher (scenario_bench.py)
T = TypeVar("T")


async def walk(
    harness: LinkingClient, teacher: BenchTeacher, token: str, end_user: str, log: Any = None
) -> None:
    """Scenario A's backend calls for one teacher; `log(name, awaitable)` wraps each call."""

    async def call(name: str, awaitable: Awaitable[T]) -> T:
        return await (log(name, awaitable) if log is not None else awaitable)

    assert teacher.password is not None
    her = harness.for_user(end_user)
    flow_id = (await call("start flow", her.start_flow(token))).flow_id
    await call("read flow", her.get_flow(flow_id))
    await call("phone", her.submit_phone(flow_id, teacher.phone))
    await call("password", her.submit_password(flow_id, teacher.password))
    code = (await call("dev inbox", harness.dev_inbox(teacher.phone)))[-1].code
    await call("code", her.verify_code(flow_id, code))
    await call(
        "personal data",
        her.submit_personal_data(
            flow_id,
            full_name=teacher.full_name,
            birth_date=teacher.birth_date,
            gender=teacher.gender,  # type: ignore[arg-type]
        ),
    )
    flow = await call("consent", her.give_consent(flow_id, link=True))
    if flow.state != "linked":
        raise RuntimeError(f"not linked: {flow.state}")
    await call("read flow", her.get_flow(flow_id))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def cpu(teachers: int, rounds: int, calls_to: str | None = None) -> None:
    best = None
    waits: list[float] = []  # wall time of every call, ms (all teachers at once: a burst)

    async def timed(_name: str, awaitable: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await awaitable
        finally:
            waits.append((time.perf_counter() - started) * 1000)

    with LinkingProcess(kdf="light") as backend:
        async with LinkingClient(backend.url, timeout=300) as harness:
            for round_ in range(rounds):
                accounts = backend.seed("new_profile", teachers)
                tokens = await link_tokens(harness, accounts)
                before = backend.stats()
                waits.clear()
                if calls_to:
                    backend.count_calls(True)
                await asyncio.gather(
                    *(
                        walk(harness, account, token, f"{round_}-{index}", timed)
                        for index, (account, token) in enumerate(zip(accounts, tokens, strict=True))
                    )
                )
                if calls_to:
                    backend.count_calls(False)
                used = backend.stats() - before
                per_update = used.cpu_seconds / (teachers * UPDATES) * 1000
                argon2 = used.argon2_seconds / (teachers * UPDATES) * 1000
                print(
                    f"round {round_ + 1}: {per_update:.2f} ms per update (argon2 {argon2:.2f}),"
                    f" HTTP p50 {_percentile(waits, 0.5):.1f} p99 {_percentile(waits, 0.99):.1f}"
                    f" max {max(waits):.1f} ms ({len(waits)} calls)"
                )
                best = per_update if best is None else min(best, per_update)
            if calls_to:
                calls = backend.call_profile(calls_to)
                print(
                    f"cProfile of the backend's loop thread ({calls_to}): {calls:,} Python"
                    f" function calls, {calls / (rounds * teachers * UPDATES):,.0f} per update"
                    " (the CPU above includes the profiler's overhead)"
                )
    print(f"{teachers} teachers at once, best of {rounds}: backend CPU {best:.2f} ms per update")


CALLS = 9  # scenario A's backend calls per teacher (`walk`)


async def open_loop(rate: float, teachers: int, seed: str, profile: str | None = None) -> None:
    """`teachers` walk at once, each pausing before every call (gamma, shape 4) so that the
    calls arrive at `rate` per second in all, whether or not the backend has answered the
    others: its queueing shows as latency. The pauses are the same in every run (`seed`)."""
    chance = random.Random(seed)
    think = teachers / rate
    waits: list[float] = []
    stalls: list[float] = []  # how late this process woke for its own timers (its own load)
    loop = asyncio.get_running_loop()

    async def paused(_name: str, awaitable: Awaitable[T]) -> T:
        pause = chance.gammavariate(4.0, think / 4.0)
        due = loop.time() + pause
        await asyncio.sleep(pause)
        stalls.append((loop.time() - due) * 1000)
        started = time.perf_counter()
        try:
            return await awaitable
        finally:
            waits.append((time.perf_counter() - started) * 1000)

    with LinkingProcess(kdf="light") as backend:
        async with LinkingClient(backend.url, timeout=300) as harness:
            accounts = backend.seed("new_profile", teachers)
            tokens = await link_tokens(harness, accounts)
            before = backend.stats()
            if profile:
                backend.profile(None)  # pyinstrument in the backend process, this run only
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    walk(harness, account, token, f"open-{index}", paused)
                    for index, (account, token) in enumerate(zip(accounts, tokens, strict=True))
                )
            )
            elapsed = time.perf_counter() - started
            used = backend.stats() - before
            if profile:
                backend.profile(profile)
    per_call = used.cpu_seconds / len(waits) * 1000
    print(
        f"open loop {rate:g} calls/s offered, {len(waits) / elapsed:.1f} achieved, {len(waits)}"
        f" calls: HTTP p50 {_percentile(waits, 0.5):.1f} p90 {_percentile(waits, 0.9):.1f}"
        f" p99 {_percentile(waits, 0.99):.1f} max {max(waits):.1f} ms; backend CPU"
        f" {per_call:.2f} ms per call; this process woke late by p99"
        f" {_percentile(stalls, 0.99):.1f} ms"
    )


async def sql() -> None:
    from sqlalchemy import event

    from services.clock import SystemClock
    from services.linking.api import BACKEND
    from services.linking.in_process import serve_backend

    statements: list[str] = []
    async with serve_backend(demo=True, clock=SystemClock()) as running:
        engine = running.app[BACKEND].db.engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement.split("\n")[0])

        async with LinkingClient(running.url) as harness:
            [teacher] = await _seed(harness, "new_profile", 1)
            token = (await harness.dev_link_token(teacher.mesh_account_id)).token
            total = 0

            async def log(name: str, awaitable: Awaitable[T]) -> T:
                nonlocal total
                statements.clear()
                result = await awaitable
                total += len(statements)
                print(f"{name:14} {len(statements):3d} statements")
                for statement in statements:
                    print(f"    {statement[:96]}")
                return result

            await walk(harness, teacher, token, "1", log)
    print(f"scenario A's backend calls: {total} SQL statements per teacher")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--teachers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sql", action="store_true", help="SQL statements per call instead")
    parser.add_argument(
        "--open-loop",
        type=float,
        metavar="RATE",
        help="instead: backend calls arrive at RATE per second: HTTP p50/p99",
    )
    parser.add_argument("--open-teachers", type=int, default=200, help="with --open-loop")
    parser.add_argument("--profile", help="with --open-loop: the backend's pyinstrument text here")
    parser.add_argument(
        "--calls",
        metavar="FILE",
        help="cProfile of the backend over the rounds (pstats to FILE): function calls per update",
    )
    args = parser.parse_args()
    if args.open_loop:
        asyncio.run(
            open_loop(args.open_loop, args.open_teachers, f"backend/{args.open_loop}", args.profile)
        )
    else:
        asyncio.run(sql() if args.sql else cpu(args.teachers, args.rounds, args.calls))


if __name__ == "__main__":
    main()
