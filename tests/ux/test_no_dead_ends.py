"""Slips that used to end the linking — «Отмена» at consent, «Назад» into a step the backend has
passed, «Начать заново» past the code — each walked through the real bot and backend to the end."""

from __future__ import annotations

from services.linking_client import FlowState
from tests.bot.helpers import Demo, fill_personal_data, reach_code, reach_personal_data
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"


async def _to_consent(teacher: Person, demo: Demo) -> None:
    await reach_personal_data(teacher, demo, CASE)
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    assert "Добавление профиля Сферум" in teacher.last_text


async def _flow_state(app: BotApp, user_id: int) -> FlowState:
    record = await app.sessions.get(user_id)
    assert record is not None and record.flow_id
    return (await app.linking.for_user(user_id).get_flow(record.flow_id)).state


async def test_cancel_at_consent_asks_first(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(901)
    await _to_consent(teacher, demo)

    await teacher.click("Отмена")
    assert "Отменить привязку?" in teacher.last_text
    assert teacher.buttons()[:2] == ["Да, отменить привязку", "Нет, вернуться к привязке"]
    assert await _flow_state(app, 901) is FlowState.CONSENT  # nothing told to the backend yet

    await teacher.click("Нет, вернуться к привязке")
    assert "Добавление профиля Сферум" in teacher.last_text
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_after_a_confirmed_cancel_she_starts_again_in_the_same_chat(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(902)
    await _to_consent(teacher, demo)
    await teacher.click("Отмена")
    await teacher.click("Да, отменить привязку")
    assert "Привязка отменена" in teacher.last_text
    assert await _flow_state(app, 902) is FlowState.CANCELLED
    assert "Начать заново" in teacher.buttons()

    await teacher.click("Начать заново")
    # No backend operation restarts a cancelled flow yet: the e-journal's link opens a new one.
    assert "откройте меня из электронного журнала" in teacher.last_text
    assert "новая привязка продолжится здесь же, в этом чате" in teacher.last_text
    assert "Открыть электронный журнал" in teacher.buttons()

    await teacher.send("/start " + await demo.token(CASE))  # the same chat, a fresh flow
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(demo[CASE].phone)
    await teacher.click("Создать учебный профиль")
    await teacher.send(demo[CASE].vk_password or "")
    await teacher.send(await demo.last_code(CASE))
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert await _flow_state(app, 902) is FlowState.LINKED


async def test_back_from_the_code_does_not_lead_to_the_accepted_password(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(903)
    await reach_code(teacher, demo, CASE)
    codes_before = await demo.codes_received(CASE)

    await teacher.click("Назад")
    assert "Подтвердите вход" in teacher.last_text  # she stays on the code step
    assert "VK ID уже принял этот шаг" in teacher.last_text
    assert "Начать заново" in teacher.buttons()
    assert await _flow_state(app, 903) is FlowState.CODE
    assert await demo.codes_received(CASE) == codes_before  # nothing was re-sent

    await teacher.send(await demo.last_code(CASE))
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_back_walks_freely_through_the_details_and_from_consent(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(904)
    await _to_consent(teacher, demo)
    await teacher.click("Назад")
    assert "Проверьте данные" in teacher.last_text  # the backend takes the details again
    await teacher.click("Изменить дату")
    await teacher.send("04.09.1986")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_start_over_past_the_code_keeps_the_step_one_tap_away(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(905)
    await _to_consent(teacher, demo)
    await teacher.click("Начать заново")
    assert "нужна новая привязка" in teacher.last_text
    assert "Здравствуйте" not in teacher.last_text  # no greeting that would bounce back

    await teacher.click("Вернуться к шагу")
    assert "Добавление профиля Сферум" in teacher.last_text
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
