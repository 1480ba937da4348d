"""The teacher always gets an answer: a bug, the database locked for 30 s, the backend down.

Each failure ends in «Что-то пошло не так — попробуйте ещё раз» (or the dialog's own «Повторить»
for an outage of the backend) with a button that brings her step back; the admins hear of it at
most once a minute; nothing written is lost.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiogram.methods import SendMessage

from bot.backend_breaker import BreakerLinkingClient, BreakerState, CircuitBreaker
from bot.durability import Committer
from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from services.linking_client import BackendUnavailable, LinkingClient
from services.storage.transient import Backoff
from tests.bot.helpers import Demo, open_from_journal, reach_code
from tests.bot.test_backend_down import closed_port_url
from tests.delivery.conftest import SimulatedTime, WriteLock
from tests.support.bot_app import BotApp, make_bot_app

CASE = "vkid_no_profile"
ADMIN = 555
ALL_TIME = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
SORRY_RU = "Что-то пошло не так — попробуйте ещё раз."


def break_method(client: Any, name: str) -> None:
    async def bug(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug nobody foresaw")

    setattr(client, name, bug)


def admin_alerts(app: BotApp) -> list[SendMessage]:
    return [c for c in app.telegram.calls_of(SendMessage) if int(c.chat_id) == ADMIN]


@pytest.fixture
async def app(tmp_path: Path, backend: RunningBackend, clock: FakeClock):
    async with make_bot_app(tmp_path, backend.url, clock=clock, admin_ids=[ADMIN]) as bot_app:
        yield bot_app


async def test_a_bug_gets_an_apology_a_retry_button_that_keeps_the_step_and_one_admin_alert(
    app: BotApp, demo: Demo, caplog: pytest.LogCaptureFixture
) -> None:
    teacher = app.teacher(800)
    await reach_code(teacher, demo)
    break_method(app.linking, "verify_code")

    with caplog.at_level(logging.ERROR, logger="bot.handlers.errors"):
        update = await teacher.feed(message=teacher._message(text="1234"))
    assert teacher.last_text == SORRY_RU
    assert teacher.buttons() == ["Попробовать ещё раз"]
    assert any(
        f"update {update.update_id} failed" in r.getMessage() and r.exc_info for r in caplog.records
    )
    (alert,) = admin_alerts(app)
    assert str(update.update_id) in alert.text and "RuntimeError" in alert.text

    await teacher.click("Попробовать ещё раз")
    assert "Подтвердите вход" in teacher.last_text  # her step, as it was

    await teacher.send("5678")  # fails again within the minute: the admins are not flooded
    assert teacher.last_text == SORRY_RU
    assert len(admin_alerts(app)) == 1


async def test_the_apology_speaks_the_teachers_language(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(801, language_code="en")
    await reach_code(teacher, demo)
    await teacher.send("/language")
    await teacher.click("English")
    break_method(app.linking, "verify_code")

    await teacher.send("1234")

    assert teacher.last_text == "Something went wrong — please try again."
    assert teacher.buttons() == ["Try again"]


async def test_database_locked_for_30_seconds_teacher_told_nothing_lost(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock, demo: Demo
) -> None:
    time = SimulatedTime()
    async with make_bot_app(
        tmp_path,
        backend.url,
        clock=clock,
        # Short enough that each try against the held lock fails fast, long enough for the
        # bot's own connections to take turns even on a busy machine.
        engine_options={"sqlite_busy_timeout_ms": 300},
        writer_options={"sleep": time.sleep, "backoff": Backoff(initial=2.0, maximum=10.0)},
    ) as app:
        teacher = app.teacher(802)
        await reach_code(teacher, demo)
        lock = WriteLock(tmp_path / "bot.sqlite3")
        await lock.hold()
        time.at(30.0, lock.release)
        try:
            # The code goes through; saving her new step hits the lock.
            with contextlib.suppress(Exception):
                await teacher.send(await demo.last_code(CASE))
            assert SORRY_RU in [m.text for m in teacher.bot_messages()[-2:]]  # she is told

            commit = Committer(
                [("write-behind", app.sessions.flush), ("dialog states", app.storage.flush)],  # type: ignore[union-attr]
                sleep=time.sleep,
                backoff=Backoff(initial=2.0, maximum=10.0),
            )
            await commit()  # what the polling loop does before confirming the update
            assert time.now >= 30.0
        finally:
            lock.close()

        await teacher.click("Попробовать ещё раз")
        assert "Напишите ваши настоящие ФИО" in teacher.last_text
        await app.restart()  # a new process reads only what reached the database
        await teacher.send("Кузнецов Андрей Сергеевич")
        assert "дату рождения" in teacher.last_text  # her step survived
        record = await app.sessions.get(802)
        assert record is not None and record.step == "Link:birth_date"
        steps = [e.step for e in await app.sessions.events(*ALL_TIME) if e.kind == "step"]
        assert steps[-3:] == ["Link:code", "Link:full_name", "Link:birth_date"]  # none lost


# --- the backend down: retry button and circuit breaker ---------------------------------------


class Switchable:
    """The linking client, or a dead one while `down`; counts calls that reach the network."""

    def __init__(self, live: LinkingClient, dead: LinkingClient, parent: Any = None) -> None:
        self.live, self.dead = live, dead
        self._parent = parent
        self.down = False
        self.attempts = 0

    def for_user(self, end_user_id: int) -> Switchable:
        """The per-teacher view the bot uses, switched and counted with this one."""
        root = self._parent or self
        return Switchable(self.live.for_user(end_user_id), self.dead.for_user(end_user_id), root)

    def __getattr__(self, name: str) -> Any:
        root = self._parent or self
        real = getattr(self.dead if root.down else self.live, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            root.attempts += 1
            return await real(*args, **kwargs)

        return call


async def test_backend_down_retry_button_and_the_breaker_opens_then_probes_and_closes(
    app: BotApp, demo: Demo
) -> None:
    now = [0.0]
    async with LinkingClient(closed_port_url(), retries=0) as dead:
        backend = Switchable(app.linking, dead)
        breaker = CircuitBreaker(failure_threshold=3, open_for=30.0, monotonic=lambda: now[0])
        app.dp["linking"] = BreakerLinkingClient(backend, breaker)  # type: ignore[arg-type]
        teacher = app.teacher(803)
        await open_from_journal(teacher, demo, CASE, "Нет")

        backend.down, backend.attempts = True, 0
        await teacher.send(demo[CASE].phone)
        assert "Сервис привязки сейчас не отвечает" in teacher.last_text
        for _ in range(2):
            await teacher.click("Повторить")
        assert breaker.state is BreakerState.OPEN and backend.attempts == 3

        await teacher.click("Повторить")  # open: answered at once, no waiting on the network
        assert "Сервис привязки сейчас не отвечает" in teacher.last_text
        assert "Повторить" in teacher.buttons()
        assert backend.attempts == 3 and breaker.rejected == 1

        now[0] += 30.0
        backend.down = False
        await teacher.click("Повторить")  # the half-open probe gets through and succeeds
        assert breaker.state is BreakerState.CLOSED
        assert "Создать учебный профиль" in teacher.buttons()


async def test_a_failed_probe_opens_the_breaker_again() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, open_for=10.0, monotonic=lambda: now[0])
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(BackendUnavailable):
        breaker.before_call()

    now[0] += 10.0
    breaker.before_call()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(BackendUnavailable):
        breaker.before_call()  # only one probe at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    now[0] += 9.9
    with pytest.raises(BackendUnavailable):
        breaker.before_call()  # open for another full period


async def test_refusals_are_answers_and_do_not_open_the_breaker(app: BotApp, demo: Demo) -> None:
    breaker = CircuitBreaker(failure_threshold=1)
    guarded = BreakerLinkingClient(app.linking, breaker)
    for _ in range(3):
        with contextlib.suppress(Exception):
            await guarded.start_flow("no-such-token")
    assert breaker.state is BreakerState.CLOSED


async def test_the_per_teacher_view_of_the_client_stays_behind_the_breaker(app: BotApp) -> None:
    breaker = CircuitBreaker(failure_threshold=1)
    async with LinkingClient(closed_port_url(), retries=0) as dead:
        guarded = BreakerLinkingClient(dead, breaker).for_user(803)
        with pytest.raises(BackendUnavailable):
            await guarded.get_flow("flow-1")
    assert breaker.state is BreakerState.OPEN
