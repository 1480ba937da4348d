"""Slips that used to end the linking — «Отмена» at consent, «Назад» into a step the backend has
passed, «Начать заново» past the code (now a fresh flow from the backend, also the way to change
the number) — each walked through the real bot and backend to the end."""

from __future__ import annotations

from datetime import date

from services.clock import FakeClock
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
    # The backend opens a fresh flow for the same e-journal account: no e-journal link needed.
    assert "Здравствуйте, Андрей Сергеевич!" in teacher.last_text
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


async def test_start_over_past_the_code_asks_first_and_keeps_the_step_one_tap_away(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(905)
    await _to_consent(teacher, demo)
    await teacher.click("Начать заново")
    assert "Начать заново?" in teacher.last_text
    assert "другой номер телефона" in teacher.last_text  # the way to change the number now
    assert teacher.buttons() == ["Да, начать заново", "↩️ Вернуться к шагу"]
    assert await _flow_state(app, 905) is FlowState.CONSENT  # nothing told to the backend yet

    await teacher.click("Вернуться к шагу")
    assert "Добавление профиля Сферум" in teacher.last_text
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_start_over_at_consent_really_starts_over_and_links(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(906)
    await _to_consent(teacher, demo)
    old = await app.sessions.get(906)
    assert old is not None and old.flow_id
    codes_before = await demo.codes_received(CASE)

    await teacher.click("Начать заново")
    await teacher.click("Да, начать заново")
    assert "Здравствуйте, Андрей Сергеевич!" in teacher.last_text  # the greeting, no bounce
    record = await app.sessions.get(906)
    assert record is not None and record.flow_id != old.flow_id
    assert await _flow_state(app, 906) is FlowState.PHONE
    old_flow = await app.linking.for_user(906).get_flow(old.flow_id)
    assert old_flow.state is FlowState.CANCELLED
    assert await demo.codes_received(CASE) == codes_before  # a restart sends nothing

    clock.advance(56)
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(demo[CASE].phone)
    await teacher.click("Создать учебный профиль")
    await teacher.send(demo[CASE].vk_password or "")
    await teacher.send(await demo.last_code(CASE))
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "04.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    assert "Добавление профиля Сферум" in teacher.last_text
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert await _flow_state(app, 906) is FlowState.LINKED


async def test_start_over_changes_the_number_after_the_code_was_accepted(
    app: BotApp, demo: Demo
) -> None:
    # Scenario A, the code accepted: her VK ID turns out to be on the wrong number. The e-journal
    # takes her other number (which has no VK ID yet); «Начать заново» brings her to it.
    teacher = app.teacher(907)
    await reach_personal_data(teacher, demo, CASE)
    other = demo["no_vkid"].phone
    await demo.confirm_phone(CASE, other)

    await teacher.click("Начать заново")
    assert "Начать заново?" in teacher.last_text
    await teacher.send("начать заново")  # typed on «Начать заново?» itself: a yes
    assert "Здравствуйте, Андрей Сергеевич!" in teacher.last_text
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Не знаю")
    await teacher.send(other)
    assert "Шаг 2 из 4" in teacher.last_text  # no VK ID there: registration
    await teacher.send((await app.linking.dev_inbox(other))[-1].code)
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert await _flow_state(app, 907) is FlowState.LINKED


async def test_a_profile_made_meanwhile_switches_her_to_scenario_b_instead_of_a_loop(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(908)
    await _to_consent(teacher, demo)
    # Meanwhile a study profile appears on her number: her second e-journal account (same
    # phone) is linked in scenario A from another Telegram account.
    other = app.linking.for_user(9080)
    mesh = demo["no_vkid"].mesh_account_id
    await demo.confirm_phone("no_vkid", demo[CASE].phone)
    flow = await other.start_flow((await demo.linking.dev_link_token(mesh)).token)
    await other.submit_phone(flow.flow_id, demo[CASE].phone)
    await other.submit_password(flow.flow_id, demo[CASE].vk_password or "")
    await other.verify_code(flow.flow_id, await demo.last_code(CASE))
    await other.submit_personal_data(
        flow.flow_id,
        full_name="Кузнецов Андрей Сергеевич",
        birth_date=date(1986, 9, 3),
        gender="male",
    )
    assert (await other.give_consent(flow.flow_id, link=True)).state is FlowState.LINKED

    await teacher.click("Привязать")
    assert "на этом номере появился учебный профиль Сферум" in teacher.last_text
    assert "Ваш профиль для связки" in teacher.last_text  # scenario B, not the consent again
    assert await _flow_state(app, 908) is FlowState.PROFILE
    await teacher.click("Продолжить")
    assert "Проверьте данные" in teacher.last_text
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert await _flow_state(app, 908) is FlowState.LINKED


async def test_start_over_typed_on_the_name_step_is_not_taken_for_a_name(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(909)
    await reach_personal_data(teacher, demo, CASE)
    await teacher.send("начать заново")
    assert "Начать заново?" in teacher.last_text  # a request, not «Начать Заново» as her name
    await teacher.click("Вернуться к шагу")
    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    await teacher.send("Кузнецов Андрей Сергеевич")  # a real name still goes through
    assert "дату рождения" in teacher.last_text
