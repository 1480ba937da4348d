"""«Не получается» on several steps, and free text understood inside and outside the dialogs."""

from __future__ import annotations

from tests.bot.helpers import Demo, open_from_journal, reach_code, reach_password
from tests.recovery.steps import NEW_PASSWORD, confirm_account, email_code, tr
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"  # scenario A; the account has an e-mail and trusted friends


async def test_help_on_the_code_step_shows_its_tips_and_returns(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(500)
    await reach_code(teacher, demo)
    await teacher.click("Не получается")

    shown = teacher.last_text
    assert "Не получается? Обычно помогает вот что:" in shown
    assert "Код не приходит?" in shown and "последние 4 цифры" in shown
    assert "Если вы ошиблись в номере, измените его и запросите код заново" in shown
    assert "Привязка не работает при включённом VPN" in shown
    assert teacher.buttons() == ["🙋 Позвать специалиста", "↩️ Вернуться к шагу"]

    await teacher.click("Вернуться к шагу")
    assert "последние 4 цифры" in teacher.last_text
    assert "Не получается" in teacher.buttons()


async def test_help_on_the_phone_step_is_about_profiles_vpn_and_browser(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(501)
    await open_from_journal(teacher, demo, CASE, "Нет")
    await teacher.click("Не получается")
    shown = teacher.last_text
    assert "не создавайте новый, а войдите по уже существующим данным" in shown
    assert "VPN" in shown and "Яндекс.Браузер" in shown
    assert "Код не приходит?" not in shown


async def test_help_on_the_password_step_restores_the_password_and_comes_back(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(502)
    await reach_password(teacher, demo)
    await teacher.click("Не получается")
    assert "Забыли пароль от VK ID?" in teacher.last_text
    assert "🔑 Восстановить пароль" in teacher.buttons()

    await teacher.click("Восстановить пароль")
    assert "SMS с кодом отправлено на телефон +7 *** ***-**-02" in teacher.last_text
    await confirm_account(teacher, demo, CASE)
    await teacher.click("С помощью электронной почты")
    await teacher.send(await email_code(demo, CASE))
    await teacher.send(NEW_PASSWORD)
    await teacher.send(NEW_PASSWORD)

    # Through the help screen straight back to the linking, signed in: on to the code.
    assert "Пароль изменён, и VK ID уже впустил вас" in teacher.last_text
    assert "последние 4 цифры" in teacher.last_text


async def test_help_calls_a_specialist(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(503)
    await reach_code(teacher, demo)
    await teacher.click("Не получается")
    await teacher.click("Позвать специалиста")
    assert tr(app, "↩️ Back to the bot") in teacher.buttons()


async def test_free_text_on_the_code_step_opens_the_matching_tip(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(504)
    await reach_code(teacher, demo)

    await teacher.send("смс не приходит")
    assert "Код не приходит?" in teacher.last_text
    assert "Ошиблись номером?" not in teacher.last_text
    await teacher.send("ой, я ошиблась номером")  # on the help screen: the tip changes
    assert "Ошиблись номером?" in teacher.last_text
    assert "Код не приходит?" not in teacher.last_text
    await teacher.click("Вернуться к шагу")  # one help screen, not two
    assert "последние 4 цифры" in teacher.last_text


async def test_free_text_about_vpn_on_the_phone_step(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(505)
    await open_from_journal(teacher, demo, CASE, "Нет")
    await teacher.send("у меня включён впн, это важно?")
    assert "Привязка не работает при включённом VPN" in teacher.last_text
    assert "Уже есть учебный профиль Сферум?" not in teacher.last_text


async def test_free_text_forgot_password_mid_link_uses_the_known_phone(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(506)
    await reach_code(teacher, demo)
    await teacher.send("я забыла пароль")
    assert "SMS с кодом отправлено на телефон +7 *** ***-**-02" in teacher.last_text
    await confirm_account(teacher, demo, CASE)
    await teacher.click("С помощью электронной почты")
    await teacher.send(await email_code(demo, CASE))
    await teacher.send(NEW_PASSWORD)
    await teacher.send(NEW_PASSWORD)
    # The flow was past the password already: back at the code, not at a password it refuses.
    assert "Пароль изменён" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text


async def test_free_text_asking_for_a_person_opens_a_handoff(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(507)
    await reach_code(teacher, demo)
    await teacher.send("позовите оператора пожалуйста")
    assert tr(app, "↩️ Back to the bot") in teacher.buttons()


async def test_free_text_restart_goes_back_to_the_greeting(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(508)
    await reach_code(teacher, demo)
    await teacher.send("начать сначала")
    assert "Начать заново?" in teacher.last_text  # the password given would be lost: asked
    await teacher.click("Да, начать заново")
    assert "Здравствуйте" in teacher.last_text


async def test_free_text_outside_any_dialog(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(509)
    await teacher.send("не приходит смс")
    assert "Код не приходит?" in teacher.last_text
    await teacher.click("Вернуться к шагу")

    await teacher.send("позовите человека")
    assert tr(app, "↩️ Back to the bot") in teacher.buttons()


async def test_ordinary_text_outside_a_dialog_is_not_taken_for_an_intent(app: BotApp) -> None:
    teacher = app.teacher(510)
    await teacher.send("Иванова Мария Петровна")
    assert "Не получается? Обычно помогает" not in teacher.last_text
    assert "Восстановление пароля" not in teacher.last_text


async def test_standalone_recovery_ends_with_a_message(app: BotApp, demo: Demo) -> None:
    case = "forgot_password_email"
    teacher = app.teacher(511)
    await teacher.send("Забыла пароль от вк")
    assert "Восстановление пароля от VK ID" in teacher.last_text
    assert "Восстановление пароля · шаг 1 из 6" in teacher.last_text
    await teacher.send(demo[case].phone)
    await confirm_account(teacher, demo, case)
    await teacher.click("С помощью электронной почты")
    await teacher.send(await email_code(demo, case))
    await teacher.send(NEW_PASSWORD)
    await teacher.send(NEW_PASSWORD)

    assert "Пароль изменён" in teacher.last_text
    assert "«Перейти к подключению»" in teacher.last_text
    await teacher.click("Готово")
    assert teacher.buttons(teacher.last) == []


async def test_standalone_recovery_in_english(app: BotApp, demo: Demo) -> None:
    case = "forgot_password_email"
    teacher = app.teacher(512, first_name="Kate", language_code="en")
    await teacher.send("/language")
    await teacher.click("English")
    await teacher.send("I forgot my password")
    assert "Restoring the VK ID password" in teacher.last_text
    await teacher.send(demo[case].phone)
    assert "An SMS with the code has been sent to the phone +7 *** ***-**-06" in teacher.last_text
    await teacher.send(await demo.last_code(case))
    assert "Is this your account?" in teacher.last_text
    await teacher.click("Yes, it's me")
    await teacher.click("By e-mail")
    assert "We have sent the code to ka***@mail.ru" in teacher.last_text
    await teacher.send(await email_code(demo, case))
    await teacher.send("short")
    assert "Create a new password" in teacher.last_text
    assert "at least 8 characters" in teacher.last_text
    await teacher.send(NEW_PASSWORD)
    await teacher.send(NEW_PASSWORD)
    assert "Password changed" in teacher.last_text


async def test_help_in_english(app: BotApp) -> None:
    teacher = app.teacher(513, first_name="Kate", language_code="en")
    await teacher.send("/language")
    await teacher.click("English")
    await teacher.send("no sms")
    assert "Not working? This usually helps:" in teacher.last_text
    assert "The code is late?" in teacher.last_text
    assert teacher.buttons() == ["🙋 Call a specialist", "↩️ Back to the step"]
