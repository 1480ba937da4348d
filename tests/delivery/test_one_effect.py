"""Handling an update twice has the effect of once.

Two kinds of repeat: the same update delivered again (de-duplication skips it, or waits for the
delivery in progress), and an update whose backend step happened while the bot died before it
could save the step or reply (on redelivery the backend says «this step is already done»; the bot
reads the flow and shows the next window, no error).

"The bot died" is played by `dies_after`: the backend call really happens, then the handler is
torn down by an exception that no error handler catches (like a killed process: no reply, no
saved dialog state). The same update is then delivered again.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest
from aiogram.types import Update

from services.linking_client import LinkingClient
from tests.bot.helpers import (
    Demo,
    fill_personal_data,
    open_from_journal,
    reach_code,
    reach_password,
)
from tests.recovery.steps import open_recovery_from_password, sms_code
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"


class ProcessKilled(BaseException):
    """Stands for SIGKILL: not an Exception, so no error handler answers it."""


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple]:
    """Record every call of `LinkingClient.<name>` (the calls still go through).

    Patched on the class: the bot calls the backend through per-teacher views of its client.
    """
    calls: list[tuple] = []
    real = getattr(LinkingClient, name)

    @functools.wraps(real)
    async def counted(self: LinkingClient, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(LinkingClient, name, counted)
    return calls


def dies_after(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The next call of `LinkingClient.<name>` reaches the backend, then the bot 'dies'."""
    real = getattr(LinkingClient, name)

    @functools.wraps(real)
    async def then_die(self: LinkingClient, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(LinkingClient, name, real)  # once: the restarted bot calls for real
        await real(self, *args, **kwargs)
        raise ProcessKilled

    monkeypatch.setattr(LinkingClient, name, then_die)


def text_update(teacher: Person, text: str) -> Update:
    return Update(update_id=next(Person._update_ids), message=teacher._message(text=text))


def click_update(teacher: Person, label: str) -> Update:
    from aiogram.types import CallbackQuery

    message = teacher._last_with_keyboard()
    assert message is not None and message.reply_markup is not None
    button = next(b for row in message.reply_markup.inline_keyboard for b in row if label in b.text)
    update_id = next(Person._update_ids)
    query = CallbackQuery(
        id=f"cq-{update_id}",
        from_user=teacher.user,
        chat_instance=f"ci-{teacher.chat.id}",
        message=message,
        data=button.callback_data,
    )
    return Update(update_id=update_id, callback_query=query)


async def deliver(app: BotApp, update: Update) -> None:
    await app.dp.feed_update(app.bot, update)


# --- the same update twice ------------------------------------------------------------------


async def test_the_same_code_message_delivered_twice_is_handled_once(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(700)
    await reach_code(teacher, demo)
    verifications = count_calls(monkeypatch, "verify_code")
    update = text_update(teacher, await demo.last_code(CASE))
    shown = len(teacher.bot_messages())

    await deliver(app, update)
    await deliver(app, update)  # Telegram delivers it again

    assert len(verifications) == 1
    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    assert "уже пройден" not in teacher.last_text  # a plain first delivery
    assert len(teacher.bot_messages()) == shown + 1  # one answer, not two


async def test_a_repeat_arriving_while_the_first_is_handled_waits_and_is_skipped(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(701)
    await reach_code(teacher, demo)
    verifications = count_calls(monkeypatch, "verify_code")
    update = text_update(teacher, await demo.last_code(CASE))

    await asyncio.gather(deliver(app, update), deliver(app, update))

    assert len(verifications) == 1
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


async def test_the_same_button_press_delivered_twice_links_once(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(702)
    await reach_code(teacher, demo)
    await teacher.send(await demo.last_code(CASE))
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    consents = count_calls(monkeypatch, "give_consent")
    update = click_update(teacher, "Привязать")

    await deliver(app, update)
    await deliver(app, update)

    assert len(consents) == 1
    assert "успешно привязан" in teacher.last_text
    events = await app.sessions.events(*_all_time())
    assert [e.kind for e in events].count("linked") == 1


# --- the backend did it, the bot died before answering ------------------------------------------


async def test_code_verified_but_bot_killed_before_replying_shows_the_next_window(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(710)
    await reach_code(teacher, demo)
    update = text_update(teacher, await demo.last_code(CASE))
    dies_after(monkeypatch, "verify_code")
    shown = len(teacher.bot_messages())

    with pytest.raises(ProcessKilled):
        await deliver(app, update)
    assert len(teacher.bot_messages()) == shown  # she got no answer
    await app.restart()
    await deliver(app, update)  # Telegram delivers it again after the restart

    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    assert "Этот шаг уже пройден" in teacher.last_text
    assert "⚠️" not in teacher.last_text
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    assert "Всё верно, продолжить" in teacher.buttons()  # and she simply goes on


async def test_phone_taken_but_bot_killed_shows_the_code_window_not_a_refusal(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(711)
    await open_from_journal(teacher, demo, "no_vkid", "Нет")  # no VK ID: code right away
    update = text_update(teacher, demo["no_vkid"].phone)
    dies_after(monkeypatch, "submit_phone")

    with pytest.raises(ProcessKilled):
        await deliver(app, update)
    await app.restart()
    await deliver(app, update)

    assert "Подтвердите" in teacher.last_text or "код" in teacher.last_text.lower()
    assert "Звонок поступит в течение 0:56" in teacher.last_text  # the first code's countdown
    assert "⚠️" not in teacher.last_text
    assert await demo.codes_received("no_vkid") == 1  # no second code was sent


async def test_consent_given_but_bot_killed_shows_success(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(712)
    await reach_code(teacher, demo)
    await teacher.send(await demo.last_code(CASE))
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    update = click_update(teacher, "Привязать")
    dies_after(monkeypatch, "give_consent")

    with pytest.raises(ProcessKilled):
        await deliver(app, update)
    await app.restart()
    await deliver(app, update)

    assert "успешно привязан" in teacher.last_text
    assert "⚠️" not in teacher.last_text


async def test_its_me_confirmed_but_bot_killed_shows_the_methods(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = "forgot_password_app"
    teacher = app.teacher(713)
    await open_recovery_from_password(teacher, demo, case)
    await teacher.send(await sms_code(demo, case))
    update = click_update(teacher, "Да, это я")
    dies_after(monkeypatch, "confirm_recovery_account")

    with pytest.raises(ProcessKilled):
        await deliver(app, update)
    await app.restart()
    await deliver(app, update)

    assert "Как вы хотите подтвердить" in teacher.last_text
    assert "⚠️" not in teacher.last_text


async def test_password_accepted_but_bot_killed_shows_the_code_window(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(714)
    await reach_password(teacher, demo)
    update = text_update(teacher, demo[CASE].vk_password or "")
    dies_after(monkeypatch, "submit_password")

    with pytest.raises(ProcessKilled):
        await deliver(app, update)
    await app.restart()
    await deliver(app, update)

    assert "последние 4 цифры" in teacher.last_text
    assert await demo.codes_received(CASE) == 1


def _all_time():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
