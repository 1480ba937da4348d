"""Personal data has a lifetime: a linked teacher's dialogs forget her details at once, an
abandoned dialog is deleted after DIALOG_RETENTION_DAYS (7), transcript lines after
TRANSCRIPT_RETENTION_DAYS (30). Time is the FakeClock: a week passes in one call."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.retention import RetentionJob
from bot.shared_state.once import MemoryOncePerWindow
from services.clock import FakeClock
from services.helpdesk.models import TranscriptEntry
from services.helpdesk.transcript import TranscriptStore
from services.storage.db import create_session_factory
from services.storage.fsm_records import FsmRecord
from tests.bot.helpers import Demo, fill_personal_data, open_from_journal, reach_personal_data
from tests.support.bot_app import BotApp

DAY = 24 * 3600


def job(app: BotApp) -> RetentionJob:
    settings = app.settings
    return RetentionJob(
        create_session_factory(app.engine),
        app.storage,
        app.clock.now,
        transcripts=timedelta(days=settings.transcript_retention_days),
        dialogs=timedelta(days=settings.dialog_retention_days),
        interval=settings.retention_interval,
    )


async def dialog_records(app: BotApp, chat_id: int) -> dict[str, str]:
    """The stored FSM rows of a private chat (its state, FSM data and dialog contexts)."""
    await app.storage.flush()  # type: ignore[union-attr]
    async with create_session_factory(app.engine)() as db:
        rows = await db.execute(select(FsmRecord.key, FsmRecord.value))
    return {key: value for key, value in rows.tuples() if f":{chat_id}:{chat_id}:" in key}


async def test_retention_defaults_are_a_week_for_dialogs_and_a_month_for_transcripts(
    app: BotApp,
) -> None:
    assert app.settings.dialog_retention_days == 7
    assert app.settings.transcript_retention_days == 30


async def test_an_abandoned_dialog_is_deleted_after_seven_days_and_a_fresh_one_stays(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    gone, fresh = app.teacher(300), app.teacher(301)
    await open_from_journal(gone, demo, "vkid_no_profile", "Нет")
    await gone.send(demo["vkid_no_profile"].phone)
    assert await dialog_records(app, 300)

    clock.advance(7 * DAY - 3600)
    await open_from_journal(fresh, demo, "profile_exists", "Да")
    clock.advance(2 * 3600)  # her dialog is 7 days and an hour old, the other one an hour

    pruned = await job(app).run_once()

    assert await dialog_records(app, 300) == {}
    assert pruned.dialog_records >= 2  # at least her dialog stack and its context
    assert await dialog_records(app, 301)
    # The fresh one goes on where she was; the storage's cache forgot the deleted one too.
    await fresh.send(demo["profile_exists"].phone)
    assert "Шаг" in fresh.last_text
    await gone.send("8 903 111-22-02")
    assert "Перейти к подключению" in gone.last_text  # a graceful new start, no stale step


async def test_a_dialog_written_within_the_week_is_kept(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(302)
    await open_from_journal(teacher, demo, "vkid_no_profile", "Нет")
    clock.advance(6 * DAY)
    await teacher.send(demo["vkid_no_profile"].phone)  # a write renews the whole stack's stamp
    clock.advance(2 * DAY)

    await job(app).run_once()

    assert await dialog_records(app, 302)


async def test_a_transcript_older_than_thirty_days_is_gone_newer_lines_stay(
    app: BotApp, clock: FakeClock
) -> None:
    factory = create_session_factory(app.engine)
    store = TranscriptStore(factory, clock=clock.now)
    await store.record(400, "teacher", "давний вопрос")
    clock.advance(20 * DAY)
    await store.record(400, "teacher", "вопрос потом")
    clock.advance(10 * DAY + 60)  # the first line is 30 days and a minute old
    await store.close()

    pruned = await job(app).run_once()

    assert pruned.transcript_lines == 1
    async with factory() as db:
        texts = list(await db.scalars(select(TranscriptEntry.text)))
    assert texts == ["вопрос потом"]
    assert (await job(app).run_once()).transcript_lines == 0  # idempotent: replicas may repeat


async def test_a_linked_teachers_dialog_data_holds_no_personal_data(
    app: BotApp, demo: Demo
) -> None:
    case = demo["vkid_no_profile"]
    teacher = app.teacher(303, first_name="Андрей")
    await reach_personal_data(teacher, demo)
    await fill_personal_data(teacher, "кузнецов андрей сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    stored_before = "\n".join((await dialog_records(app, 303)).values())
    assert "Кузнецов" in stored_before and "1986" in stored_before  # what there was to forget

    await teacher.click("Привязать")

    assert "успешно привязан" in teacher.last_text
    assert "Кузнецов Андрей Сергеевич" in teacher.last_text  # shown once, with her details
    stored = "\n".join((await dialog_records(app, 303)).values())
    digits = case.phone[-10:]
    for personal in (
        "Кузнецов", "Андрей", "1986", digits, digits[-4:], "***", "Школа", "mesh", "flow",
    ):  # fmt: skip
        assert personal not in stored, personal

    await teacher.send("спасибо")  # the closing window again, now without her details
    assert "успешно привязан" in teacher.last_text
    assert "Кузнецов" not in teacher.last_text and "{" not in teacher.last_text


async def test_a_cancelled_linking_forgets_her_details_too(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(304)
    await reach_personal_data(teacher, demo)
    await fill_personal_data(teacher, "кузнецов андрей сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Отмена")
    await teacher.click("Да, отменить привязку")

    assert "Привязка отменена" in teacher.last_text
    stored = "\n".join((await dialog_records(app, 304)).values())
    assert "Кузнецов" not in stored and "1986" not in stored
    await teacher.click("Начать заново")  # the way on still works
    assert "электронного журнала" in teacher.last_text or "журнал" in teacher.last_text


async def test_an_already_linked_profile_is_shown_not_kept(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(305)
    await teacher.send("/start " + await demo.token("already_linked"))
    assert "Соколов Дмитрий Александрович" in teacher.last_text  # shown with her profile

    stored = "\n".join((await dialog_records(app, 305)).values())
    assert stored and "Соколов" not in stored and "Школа" not in stored
    await teacher.send("спасибо")  # the window again: still linked, now without the name
    assert "уже привязана к учебному профилю Сферум" in teacher.last_text
    assert "Соколов" not in teacher.last_text


async def test_replicas_jobs_run_once_per_interval_and_a_failed_run_is_retried(
    app: BotApp,
) -> None:
    now = [0.0]
    gate = MemoryOncePerWindow(3600 * 0.9, monotonic=lambda: now[0])  # Redis: SET NX PX
    runs: list[str] = []

    class Replica:
        """A replica's job, its storage (failing `failures` times) and its sleeps."""

        def __init__(self, name: str, failures: int = 0) -> None:
            self.name, self.failures = name, failures
            self.wake: asyncio.Queue[None] = asyncio.Queue()
            self.asleep = asyncio.Event()
            self.job = RetentionJob(
                create_session_factory(app.engine),
                self,
                app.clock.now,
                transcripts=timedelta(days=30),
                dialogs=timedelta(days=7),
                interval=3600,
                gate=gate,
                sleep=self.sleep,
            )

        async def prune(self, before: datetime) -> int:
            runs.append(self.name)
            if self.failures:
                self.failures -= 1
                raise ConnectionError("database went away")
            return 0

        async def sleep(self, seconds: float) -> None:
            assert seconds == 3600
            self.asleep.set()
            await self.wake.get()

    a, b = Replica("a", failures=1), Replica("b")

    async def interval() -> None:
        for replica in (a, b):
            await asyncio.wait_for(replica.asleep.wait(), 5)
            replica.asleep.clear()

    a.job.start()
    b.job.start()
    await interval()
    assert runs == ["a"]  # b found the gate closed; a's run failed (logged)
    for hour in (1, 2):
        now[0] = 3600.0 * hour
        a.wake.put_nowait(None)
        b.wake.put_nowait(None)
        await interval()
    await a.job.close()
    await b.job.close()
    assert len(runs) == 3  # one run per interval, whichever replica's turn came first
    assert runs[1] == "a"  # the failed run was retried at the next turn
