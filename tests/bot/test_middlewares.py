"""A repeated update is handled once; a flood is slowed down politely, never silently."""

from __future__ import annotations

from aiogram.types import Update

from tests.bot.helpers import Demo
from tests.support.bot_app import BotApp


async def test_a_repeated_update_is_handled_once(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(800)
    await teacher.send("/start " + await demo.token("vkid_no_profile"))
    message = teacher._message(text="/start")
    update = Update(update_id=987654, message=message)
    await app.dp.feed_update(app.bot, update)
    shown = len(teacher.bot_messages())
    await app.dp.feed_update(app.bot, update)
    assert len(teacher.bot_messages()) == shown


async def test_a_flood_gets_one_polite_answer(app: BotApp) -> None:
    teacher = app.teacher(801)
    for _ in range(25):
        await teacher.send("привет")
    texts = [m.text for m in teacher.bot_messages()]
    assert (
        texts.count(
            "Вы отправляете сообщения очень быстро. Подождите, пожалуйста, несколько секунд."
        )
        == 1
    )
    assert len(texts) == 21  # twenty answered, one warning, nothing after it
