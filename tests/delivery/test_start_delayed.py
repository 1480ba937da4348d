"""/start while the bot's database does not answer in time (locked, away, or the bot overloaded).

The backend has redeemed her link by then; the start of her link session is written through and
is not committed within its time. It stays queued and lands later, so she is greeted meanwhile —
before, the update stopped there: she read «Что-то пошло не так», and neither «Попробовать ещё
раз» nor the same link (used now) brought a dialog back — she had to open the assistant from the
e-journal again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from bot.durability import Committer
from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from services.storage.transient import Backoff
from tests.bot.helpers import Demo
from tests.delivery.conftest import SimulatedTime, WriteLock
from tests.support.bot_app import make_bot_app

CASE = "vkid_no_profile"


async def test_a_start_not_committed_in_time_still_greets_her_and_lands(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock, demo: Demo
) -> None:
    time = SimulatedTime()
    backoff = Backoff(initial=2.0, maximum=10.0)
    async with make_bot_app(
        tmp_path,
        backend.url,
        clock=clock,
        engine_options={"sqlite_busy_timeout_ms": 300},
        writer_options={"sleep": time.sleep, "backoff": backoff, "write_through_timeout": 0.05},
    ) as app:
        teacher = app.teacher(850)
        token = await demo.token(CASE)
        await teacher.send("/help")  # her first update: the bot's own rows exist before the lock
        await app.sessions.flush()
        lock = WriteLock(tmp_path / "bot.sqlite3")
        await lock.hold()
        time.at(30.0, lock.release)
        try:
            # Her dialog state cannot be saved within the update either (the database is
            # locked, not slow): after greeting her, the update ends in the apology, and the
            # polling loop commits it later (the Committer below).
            with contextlib.suppress(Exception):
                await teacher.send("/start " + token)
            greeting = [m for m in teacher.bot_messages() if "Начнём" in teacher.buttons(m)]
            assert greeting  # she was greeted, the dialog started

            commit = Committer(
                [("write-behind", app.sessions.flush), ("dialog states", app.storage.flush)],  # type: ignore[union-attr]
                sleep=time.sleep,
                backoff=backoff,
            )
            await commit()  # what the polling loop does before confirming the update
            assert time.now >= 30.0  # it did wait for the database
        finally:
            lock.close()

        await teacher.click("Попробовать ещё раз")
        assert "Начнём" in teacher.buttons()  # the apology's button brings the greeting back
        record = await app.sessions.get(850)
        assert record is not None and record.step == "Onboarding:greeting"  # the start landed
        await app.restart()  # a new process reads only what reached the database
        await teacher.click("Начнём")
        assert "VPN" in teacher.last_text  # and her dialog goes on from it
