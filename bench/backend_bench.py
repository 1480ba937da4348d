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
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from linking_process import BenchTeacher, LinkingProcess, _seed

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


async def cpu(teachers: int, rounds: int) -> None:
    best = None
    with LinkingProcess(kdf="light") as backend:
        async with LinkingClient(backend.url, timeout=300) as harness:
            for round_ in range(rounds):
                accounts = backend.seed("new_profile", teachers)
                tokens = [(await harness.dev_link_token(a.mesh_account_id)).token for a in accounts]
                before = backend.stats()
                await asyncio.gather(
                    *(
                        walk(harness, account, token, f"{round_}-{index}")
                        for index, (account, token) in enumerate(zip(accounts, tokens, strict=True))
                    )
                )
                used = backend.stats() - before
                per_update = used.cpu_seconds / (teachers * UPDATES) * 1000
                argon2 = used.argon2_seconds / (teachers * UPDATES) * 1000
                print(f"round {round_ + 1}: {per_update:.2f} ms per update (argon2 {argon2:.2f})")
                best = per_update if best is None else min(best, per_update)
    print(f"{teachers} teachers at once, best of {rounds}: backend CPU {best:.2f} ms per update")


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
    args = parser.parse_args()
    asyncio.run(sql() if args.sql else cpu(args.teachers, args.rounds))


if __name__ == "__main__":
    main()
