"""Memory of the bot with many teachers in the middle of a dialog, and the bounds of its caches.

N teachers (10,000 by default) each open their deep link and walk scenario A up to the phone
question (`/start <token>`, «Начнём», «VPN выключен», «Нет»: the link session begun, a dialog
stack and context in the FSM storage, her language cached), through the real bot
(`bot.app.build_runtime` on SQLite, the default deployment) and the real backend in its own
process, as bench/scenario_bench.py does; `--concurrency` of them at a time. The harness forgets
each teacher's chat once she is at the question, so what stays in this process is the bot's.

Printed: the process's RSS before the first teacher and after the last (after a full garbage
collection), the growth per teacher, and the size of every in-process map that grows with
teachers, against its bound. Once the bot is built, before the first teacher, the collector is
settled as `python -m bot` settles it after start-up (bot/gc_tuning.py: collect, freeze, a
young threshold of 10,000); `--gc default` keeps CPython's defaults instead.

    .venv/bin/python bench/memory_bench.py                     # 10,000 teachers
    .venv/bin/python bench/memory_bench.py --teachers 2000 --concurrency 100
    .venv/bin/python bench/memory_bench.py --gc default         # CPython's collector settings
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from typing import Any

from linking_process import LinkingProcess, link_tokens
from scenario_bench import FIRST_TEACHER_ID, load_average, real_bot
from teacher_walks import TimedPerson

from bot.gc_tuning import settle_after_startup
from bot.helpdesk.rights import RIGHTS_CACHE_SIZE
from services.linking_client import LinkingClient

TARGET_MB = 300


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def to_phone_question(person: TimedPerson, token: str) -> None:
    await person.send("/start " + token)
    await person.click("Начнём")
    await person.click("VPN выключен, продолжить")
    await person.click("Нет")
    if "телефон" not in person.last_text.lower():
        raise RuntimeError(f"not at the phone question: {person.last_text[:120]!r}")


def cache_sizes(dp: Any) -> list[tuple[str, int, int | None]]:
    """(what, entries now, bound) for the maps in this process that grow with teachers."""
    storage = dp.storage
    locale = dp["locale_middleware"]
    shared = [
        ("FSM cache (SQLStorage entries)", len(storage._entries), storage._cache_size),
        ("language cache", len(locale.cache), getattr(locale.cache, "size", None)),
    ]
    throttling = [m for m in dp.message.outer_middleware if hasattr(m, "flood_window")]
    throttle = getattr(throttling[0], "store", None) if throttling else None
    if throttle is not None and hasattr(throttle, "_messages"):
        from bot.shared_state.throttle_store import MAX_TRACKED_USERS

        shared.append(("throttling (users tracked)", len(throttle._messages), MAX_TRACKED_USERS))
        shared.append(("throttling (presses held)", len(throttle._pressing), None))
    ledger = dp["update_dedup"].ledger
    if hasattr(ledger, "_done"):
        shared.append(("update ledger (done ids)", len(ledger._done), ledger.capacity))
        shared.append(("update ledger (in flight)", len(ledger._in_flight), None))
    helpdesk = dp.workflow_data.get("helpdesk")
    rights = getattr(helpdesk, "rights", None)
    if rights is not None:
        shared.append(("helpdesk rights cache", len(rights._admins), RIGHTS_CACHE_SIZE))
    shared.append(("countdown tasks", len(dp["countdowns"]._tasks), None))
    return shared


async def main(args: argparse.Namespace) -> int:
    print(f"  load average before: {load_average()}", file=sys.stderr)
    with LinkingProcess(kdf="light") as backend:
        async with (
            LinkingClient(backend.url, timeout=120) as harness,
            real_bot("sql-sqlite", backend.url, args) as under_test,
        ):
            assert under_test is not None
            if args.gc == "settled":  # as `python -m bot` does once start-up is over
                settle_after_startup()
            gc.collect()
            before = rss_mb()
            started = time.perf_counter()
            failed = 0
            done = 0
            for first in range(0, args.teachers, args.concurrency):
                count = min(args.concurrency, args.teachers - first)
                accounts = backend.seed("new_profile", count)
                tokens = await link_tokens(harness, accounts)
                latencies: list[float] = []
                persons = [
                    TimedPerson(
                        under_test.dp,
                        under_test.bot,
                        under_test.telegram,
                        user_id=FIRST_TEACHER_ID + first + index,
                        first_name="Анна",
                        latencies=latencies,
                    )
                    for index in range(count)
                ]
                outcomes = await asyncio.gather(
                    *(to_phone_question(p, t) for p, t in zip(persons, tokens, strict=True)),
                    return_exceptions=True,
                )
                errors = [o for o in outcomes if isinstance(o, BaseException)]
                if errors and not failed:
                    print(f"  first failure: {errors[0]!r}", file=sys.stderr)
                failed += len(errors)
                done += count
                # The harness forgets her chat: what stays is the bot's.
                for person in persons:
                    under_test.telegram.chats.pop(person.chat.id, None)
                under_test.telegram.calls.clear()
                under_test.telegram.callback_answers.clear()
                under_test.telegram.replies.clear()
                del persons, outcomes
                if done % (args.concurrency * 10) == 0:
                    print(f"  {done} teachers, RSS {rss_mb():.0f} MB", file=sys.stderr)
            assert under_test.sessions is not None
            await under_test.sessions.flush()
            gc.collect()
            after = rss_mb()
            seconds = time.perf_counter() - started
            sizes = cache_sizes(under_test.dp)
    teachers = args.teachers
    print(
        f"{teachers} teachers at the phone question of scenario A (SQLite storage), "
        f"{args.concurrency} at a time, {seconds:.0f} s; Python {sys.version.split()[0]}; "
        f"gc {args.gc}; load average after: {load_average()}"
    )
    print(f"  RSS before the first teacher  {before:8.1f} MB")
    print(f"  RSS with all of them          {after:8.1f} MB   (target <= {TARGET_MB} MB)")
    print(f"  growth per teacher            {(after - before) * 1024 / teachers:8.1f} KB")
    print(f"  teachers who did not get there: {failed}")
    print("  in-process maps that grow with teachers (entries / bound):")
    for name, size, bound in sizes:
        print(f"    {name:<34}{size:>8} / {bound if bound is not None else 'transient'}")
    return 1 if failed or after > TARGET_MB else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--teachers", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200, help="teachers at a time")
    parser.add_argument(
        "--gc",
        choices=("settled", "default"),
        default="settled",
        help="before the first teacher, settle the collector as `python -m bot` does"
        " (bot/gc_tuning.py) or keep CPython's defaults",
    )
    parser.add_argument(
        "--postgres-admin-dsn",
        default=os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
