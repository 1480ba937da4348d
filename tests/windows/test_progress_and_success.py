"""The progress line a teacher reads on every step, and what the success message tells her."""

from __future__ import annotations

from tests.bot.helpers import Demo, fill_personal_data, open_from_journal
from tests.support.bot_app import BotApp


async def test_the_phone_step_promises_no_total_until_the_backend_chooses(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(740)
    await open_from_journal(teacher, demo, "no_vkid", "Нет")
    assert "<i>Шаг 1 из 4–6</i>" in teacher.last_text  # not «из 6» that would become «из 4»

    await teacher.send(demo["no_vkid"].phone)
    assert "Шаг 2 из 4" in teacher.last_text  # registration: phone, code, data, consent

    await teacher.click("Изменить номер")
    assert "Шаг 1 из 4" in teacher.last_text  # now the total is known


async def test_signed_in_teacher_of_scenario_b_counts_five_steps(app: BotApp, demo: Demo) -> None:
    case = "profile_exists_authorised"
    teacher = app.teacher(741)
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(demo[case].phone)
    assert "Шаг 2 из 5" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text


async def test_recovery_numbers_its_own_steps_and_says_so(app: BotApp, demo: Demo) -> None:
    case = "vkid_no_profile"
    teacher = app.teacher(742)
    await open_from_journal(teacher, demo, case, "Нет")
    await teacher.send(demo[case].phone)
    await teacher.click("Создать учебный профиль")
    assert "Шаг 3 из 6" in teacher.last_text

    await teacher.click("Забыли или не установили пароль?")
    assert "Восстановление пароля · шаг 2 из 6" in teacher.last_text
    assert "Шаг 2 из 6" not in teacher.last_text  # never mistaken for step 2 of the linking


async def test_success_tells_what_to_do_next_in_vk_messenger(app: BotApp, demo: Demo) -> None:
    case = "no_vkid"
    teacher = app.teacher(743)
    await open_from_journal(teacher, demo, case)
    await teacher.send(demo[case].phone)
    await teacher.send(await demo.last_code(case))
    await fill_personal_data(teacher, "Смирнова Ольга Викторовна", "12.04.1979", "Женский")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")

    shown = teacher.last_text
    assert "Готово!" in shown and "успешно привязан" in shown
    assert "Что дальше" in shown
    assert "Откройте VK Мессенджер" in shown
    assert "Войдите по VK ID с номером +7 *** ***-**-01" in shown
    assert "в разделе «Сферум»" in shown


async def test_a_refusal_stands_out_under_the_step(app: BotApp, demo: Demo) -> None:
    case = "vkid_no_profile"
    teacher = app.teacher(744)
    await open_from_journal(teacher, demo, case, "Нет")
    await teacher.send(demo[case].phone)
    await teacher.click("Создать учебный профиль")
    await teacher.send("wrong-password")
    assert "\n\n⚠️ Пароль от VK ID неверный. Осталось 4 попытки." in teacher.last_text
