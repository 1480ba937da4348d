"""The simulated linking backend in a process of its own, with bench-only teachers.

The backend is the real one (`services.linking.in_process.serve_backend(demo=True)` over HTTP on
127.0.0.1). Running it in a child process keeps its CPU (argon2, SQLite, JSON) out of the bot's
event loop, as in production, and lets the bench read each side's CPU time separately.

The demo world has one teacher per branch; a bench needs one fresh MESH account and phone per
simulated teacher and run, so `seed` asks the backend for them through its dev API
(`POST /dev/accounts {"case": …}`, the same way the sandbox's «+ Новый учитель» does), never
touching the backend's tables.

    with LinkingProcess(kdf="seed") as backend:
        teachers = backend.seed("new_profile", 50)
        before = backend.stats(); ...; used = backend.stats() - before
"""

from __future__ import annotations

import asyncio
import cProfile
import multiprocessing
import pstats
import threading
import time
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

from services.linking_client import DemoCase, LinkingClient

# The two profiles of the backend's argon2id: the seed's settings (LinkingSettings defaults)
# and the light one tests use (services.linking.in_process.LIGHT_KDF).
KDF_PROFILES = ("seed", "light")

SCENARIOS = ("new_profile", "existing_profile", "registration")
# The demo case whose teacher walks each scenario (docs/linking-api.md, dev accounts).
CASE_OF_SCENARIO: dict[str, DemoCase] = {
    "new_profile": "vkid_no_profile",
    "existing_profile": "profile_exists",
    "registration": "no_vkid",
}
# What she types where the e-journal knows nothing (a teacher without a VK ID).
DEFAULT_BIRTH_DATE = date(1984, 5, 17)
SEED_CONCURRENCY = 16


@dataclass(frozen=True)
class BenchTeacher:
    """One seeded MESH account (and VK ID / Sferum profile as the scenario needs)."""

    mesh_account_id: str
    phone: str
    password: str | None
    full_name: str
    birth_date: date
    gender: str


async def link_tokens(harness: LinkingClient, teachers: list[BenchTeacher]) -> list[str]:
    """Each seeded teacher's e-journal deep-link token (the dev API, as the journal would)."""
    return [(await harness.dev_link_token(t.mesh_account_id)).token for t in teachers]


@dataclass(frozen=True)
class BackendStats:
    """Cumulative counters of the backend process."""

    cpu_seconds: float
    argon2_seconds: float
    argon2_calls: int

    def __sub__(self, other: BackendStats) -> BackendStats:
        return BackendStats(
            self.cpu_seconds - other.cpu_seconds,
            self.argon2_seconds - other.argon2_seconds,
            self.argon2_calls - other.argon2_calls,
        )


class LinkingProcess:
    """Starts the backend in a spawned process; `url`, `seed()`, `stats()`; stopped on exit."""

    def __init__(self, *, kdf: str = "seed", start_timeout: float = 180.0) -> None:
        self.kdf = kdf
        self.start_timeout = start_timeout
        self.url = ""
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> LinkingProcess:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(
            target=_child_main, args=(child, self.kdf), name="linking-backend", daemon=True
        )
        self._process.start()
        self._conn = parent
        self.url = self._receive(self.start_timeout)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None and self._process is not None and self._process.is_alive():
            self._conn.send(("stop",))
            self._process.join(timeout=10)
        if self._process is not None and self._process.is_alive():
            self._process.terminate()  # our own child only
            self._process.join(timeout=5)

    def seed(self, scenario: str, count: int) -> list[BenchTeacher]:
        assert self._conn is not None
        self._conn.send(("seed", scenario, count))
        return self._receive(900.0)  # 10,000 teachers for the memory bench take a while

    def stats(self) -> BackendStats:
        assert self._conn is not None
        self._conn.send(("stats",))
        return self._receive(30.0)

    def profile(self, path: str | None) -> None:
        """Start pyinstrument in the backend process; with a path again, stop and write it."""
        assert self._conn is not None
        self._conn.send(("profile", path))
        self._receive(600.0)  # writing a long run's profile takes a while on a busy machine

    def count_calls(self, on: bool) -> None:
        """Switch cProfile in the backend's event loop thread on or off (it adds up over runs)."""
        assert self._conn is not None
        self._conn.send(("cprofile", on))
        self._receive(30.0)

    def call_profile(self, path: str) -> int:
        """Write what `count_calls` gathered (pstats) to path; the Python function calls."""
        assert self._conn is not None
        self._conn.send(("cprofile", path))
        return self._receive(120.0)

    def _receive(self, timeout: float) -> Any:
        assert self._conn is not None and self._process is not None
        deadline = time.monotonic() + timeout
        while not self._conn.poll(0.2):
            if not self._process.is_alive():
                raise RuntimeError(f"the backend process died ({self._process.exitcode})")
            if time.monotonic() > deadline:
                raise TimeoutError("the linking backend process did not answer")
        reply = self._conn.recv()
        if isinstance(reply, BaseException):
            raise reply
        return reply


# --- the child process ----------------------------------------------------------------------


def _child_main(conn: Connection, kdf: str) -> None:
    asyncio.run(_serve(conn, kdf))


class _Counters:
    def __init__(self) -> None:
        self.argon2_seconds = 0.0
        self.argon2_calls = 0
        self.lock = threading.Lock()  # the hashing threads add up concurrently


def _time_argon2(hashing: Any, counters: _Counters) -> None:
    """Count the time spent in argon2 (in the backend's hashing threads, off its event loop)."""
    for name in ("hash_blocking", "verify_blocking"):
        original = getattr(hashing, name)

        def timed(*args: Any, _original: Any = original) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args)
            finally:
                with counters.lock:
                    counters.argon2_seconds += time.perf_counter() - started
                    counters.argon2_calls += 1

        setattr(hashing, name, timed)


async def _serve(conn: Connection, kdf: str) -> None:
    from services.clock import SystemClock
    from services.linking.api import BACKEND
    from services.linking.in_process import LIGHT_KDF, serve_backend
    from services.linking.settings import LinkingSettings

    seed_kdf = {
        name: LinkingSettings.model_fields[name].default
        for name in LIGHT_KDF  # the same keys, with the seed's values
    }
    overrides = LIGHT_KDF if kdf == "light" else seed_kdf
    counters = _Counters()
    loop = asyncio.get_running_loop()
    try:
        async with (
            serve_backend(demo=True, clock=SystemClock(), settings_overrides=overrides) as running,
            LinkingClient(running.url, timeout=120.0) as dev_api,
        ):
            backend = running.app[BACKEND]
            _time_argon2(backend.hashing, counters)

            conn.send(running.url)
            profiler: Any = None
            calls = cProfile.Profile(time.thread_time)  # CPU, not wall-clock: the load
            while True:
                command, *payload = await loop.run_in_executor(None, conn.recv)
                if command == "stop":
                    return
                if command == "profile":
                    profiler = _toggle_profile(profiler, payload[0])
                    conn.send(None)
                if command == "cprofile":
                    conn.send(_count_calls(calls, payload[0]))
                if command == "stats":
                    conn.send(
                        BackendStats(
                            time.process_time(),
                            counters.argon2_seconds,
                            counters.argon2_calls,
                        )
                    )
                elif command == "seed":
                    scenario, count = payload
                    conn.send(await _seed(dev_api, scenario, count))
    except BaseException as error:  # shown by the parent, not lost in the child
        conn.send(error)
        raise


def _toggle_profile(profiler: Any, path: str | None) -> Any:
    """Start a profiler (path None) or stop the running one and write its text to path."""
    from pyinstrument import Profiler

    if profiler is None:
        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        return profiler
    profiler.stop()
    text = profiler.output_text(unicode=True) + "\n\nself time per function:\n"
    text += profiler.output_text(unicode=True, flat=True, flat_time="self")
    with open(path or "backend-profile.txt", "w", encoding="utf-8") as out:
        out.write(text)
    return None


def _count_calls(profiler: cProfile.Profile, what: bool | str) -> int | None:
    """True / False: enable / disable; a path: dump the stats there, answer the call count."""
    if isinstance(what, bool):
        if what:
            profiler.enable()
        else:
            profiler.disable()
        return None
    profiler.dump_stats(what)
    return int(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]


async def _seed(backend: LinkingClient, scenario: str, count: int) -> list[BenchTeacher]:
    """`count` fresh demo teachers for `scenario`, made by the backend's dev API."""
    case = CASE_OF_SCENARIO[scenario]
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def one() -> BenchTeacher:
        async with gate:
            account = await backend.dev_create_account(case)
        return BenchTeacher(
            mesh_account_id=account.mesh_account_id,
            phone=account.phone,
            password=account.vk_password,
            full_name=account.full_name,
            birth_date=account.birth_date or DEFAULT_BIRTH_DATE,
            gender=account.gender or "female",
        )

    return list(await asyncio.gather(*(one() for _ in range(count))))
