"""End to end: the real bot (bot.app) polls the sandbox over HTTP; people act through the page API.

Scenario A (new profile), B (existing profile), C (password recovery) and a helpdesk handoff, with
every code read from the phone pane, as a person playing in the browser would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.sandbox.live import Live, live_sandbox, text_of
from tests.sandbox.walks import confirm_with_call_code, enter_password, start_linking


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with live_sandbox() as running:
        yield running


async def test_scenario_a_new_profile_is_created_and_linked(live: Live):
    teacher = live.teacher("vkid_no_profile")
    await start_linking(teacher, has_profile="Нет")
    await teacher.press("Создать учебный профиль")
    await enter_password(teacher, teacher.teacher.vk_password)
    await confirm_with_call_code(teacher)
    await teacher.sees("ФИО")
    await teacher.says(teacher.teacher.full_name)
    await teacher.sees("дату рождения")
    await teacher.says("14.03.1985")
    await teacher.press("Мужской")
    await teacher.press("Всё верно")
    consent = await teacher.sees("Добавление профиля Сферум")
    assert {"Привязать", "Отмена"} <= {
        b["text"] for row in consent["reply_markup"]["inline_keyboard"] for b in row
    }
    await teacher.press("Привязать")
    done = await teacher.sees("успешно привязан")
    assert teacher.teacher.full_name in text_of(done)


async def test_scenario_b_existing_profile_is_chosen_and_linked(live: Live):
    teacher = live.teacher("profile_exists")
    await start_linking(teacher, has_profile="Да")
    await enter_password(teacher, teacher.teacher.vk_password)
    await confirm_with_call_code(teacher)
    profile = await teacher.sees("Ваш профиль для связки")
    assert teacher.teacher.full_name in text_of(profile)
    await teacher.sees_button("Войти в другой аккаунт")
    await teacher.press("Продолжить")
    await teacher.press("Всё верно")
    await teacher.press("Привязать")
    await teacher.sees("успешно привязан")


async def test_scenario_c_password_recovery_by_email_signs_her_in_and_goes_on(live: Live):
    teacher = live.teacher("forgot_password_email")
    await start_linking(teacher, has_profile="Да")
    await teacher.sees("Пароль от VK ID")
    await teacher.press("Забыли или не установили пароль?")
    await teacher.sees("SMS с кодом отправлено")
    await teacher.says(await teacher.reads_code("sms"))
    await teacher.press("Да, это я")
    await teacher.press("С помощью электронной почты")
    await teacher.sees("Введите код из письма")
    await teacher.says(await teacher.reads_code("email"))
    new_password = "Novyj#Parol2026"
    first = await teacher.says(new_password)
    await teacher.sees("Повторите новый пароль")
    assert teacher.message_is_gone(first["message_id"])
    await teacher.says(new_password)
    # Back in the linking, signed in by the recovery: straight on to the code.
    await teacher.sees("VK ID уже впустил вас")
    await confirm_with_call_code(teacher)
    await teacher.sees("Ваш профиль для связки")


async def test_helpdesk_handoff_relays_both_ways_and_closes_with_a_rating(live: Live):
    teacher = live.teacher("no_vkid")
    operator = live.operator()
    await teacher.opens_from_journal()
    await teacher.press("Не получается")
    await teacher.press("Позвать специалиста")
    topic = await operator.sees_new_topic()
    await operator.sees_in_topic(topic, teacher.teacher.full_name)  # the context card

    await teacher.says("Не приходит звонок")
    await operator.sees_in_topic(topic, "Не приходит звонок")
    await operator.writes(topic, "/take")
    await operator.writes(topic, "Здравствуйте! Проверьте, что номер введён верно.")
    await teacher.sees("Проверьте, что номер введён верно")

    await operator.writes(topic, "/close")
    await live.wait(
        lambda: True if operator.helpdesk.topics[topic].is_closed else None, "the topic to close"
    )
    await teacher.press("5 ⭐")
    await operator.sees_in_topic(topic, "5/5")
