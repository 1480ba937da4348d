"""Typing on a window that waits for a button: the teacher is understood, or told what to press.

Each test reads like the conversation: the teacher types instead of pressing, the bot either acts
on what she clearly asked for («позовите человека», «забыла пароль», «не приходит смс») or says
what this very window expects, and the dialog stays where it was.
"""

from __future__ import annotations

from tests.bot.helpers import Demo, fill_personal_data, open_from_journal, reach_personal_data
from tests.helpdesk.harness import HelpdeskApp, only_topic
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"


async def greet(teacher: Person, demo: Demo, case: str = CASE) -> None:
    await teacher.send("/start " + await demo.token(case))
    assert "Начнём" in teacher.buttons()


# --------------------------------------------------------------------------- onboarding


async def test_chatter_on_the_greeting_says_which_button_to_press(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(700)
    await greet(teacher, demo)

    await teacher.send("привет")
    assert "Когда будете готовы, нажмите «Начнём» ниже." in teacher.last_text
    assert "Здравствуйте, Андрей Сергеевич" in teacher.last_text  # still the greeting
    assert "Начнём" in teacher.buttons()

    await teacher.click("Начнём")
    assert "Перед началом" in teacher.last_text
    assert "нажмите «Начнём»" not in teacher.last_text  # the hint went with the window


async def test_chatter_on_the_prechecks_and_the_branch_question(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(701)
    await greet(teacher, demo)
    await teacher.click("Начнём")

    await teacher.send("ок")
    assert "нажмите «VPN выключен, продолжить»" in teacher.last_text
    assert "Перед началом" in teacher.last_text

    await teacher.click("VPN выключен, продолжить")
    await teacher.send("а как проверить?")
    assert "Ответьте, пожалуйста, кнопкой ниже: «Да», «Нет» или «Не знаю»." in teacher.last_text
    assert teacher.buttons()[:3] == ["Да", "Нет", "Не знаю"]

    await teacher.click("Не знаю")
    assert "Номер телефона" in teacher.last_text


async def test_a_sticker_on_the_branch_question_is_answered_not_ignored(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(702)
    await greet(teacher, demo)
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")

    await teacher.send_sticker()
    assert "стикеры, фото и голосовые сообщения" in teacher.last_text
    assert "У вас уже есть учебный профиль Сферум" in teacher.last_text


async def test_forgot_password_typed_on_the_branch_opens_recovery_and_back_returns(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(703)
    await greet(teacher, demo)
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")

    await teacher.send("забыла пароль")
    assert "Восстановление пароля от VK ID" in teacher.last_text
    assert "Восстановление пароля · шаг 1 из 6" in teacher.last_text

    await teacher.click("Назад")
    assert "У вас уже есть учебный профиль Сферум" in teacher.last_text


async def test_code_not_arriving_typed_on_the_greeting_opens_that_tip(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(704)
    await greet(teacher, demo)

    await teacher.send("не приходит смс")
    assert "Код не приходит?" in teacher.last_text
    await teacher.click("Вернуться к шагу")
    assert "Здравствуйте" in teacher.last_text


async def test_restart_typed_on_the_prechecks_starts_over(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(705)
    await greet(teacher, demo)
    await teacher.click("Начнём")

    await teacher.send("начать заново")
    assert "Здравствуйте, Андрей Сергеевич" in teacher.last_text
    assert "Начнём" in teacher.buttons()


async def test_text_on_the_how_to_open_and_already_linked_screens(app: BotApp, demo: Demo) -> None:
    stranger = app.teacher(706)
    await stranger.send("/start")
    await stranger.send("а где ссылка?")
    assert "откройте меня из электронного журнала, как написано выше" in stranger.last_text
    assert "Продолжим с того места" not in stranger.last_text

    linked = app.teacher(707)
    await linked.send("/start " + await demo.token("already_linked"))
    await linked.send("и что теперь?")
    assert "Всё уже готово — здесь больше ничего делать не нужно." in linked.last_text


# --------------------------------------------------------------------------- link steps


async def test_text_on_the_account_card_points_at_the_create_button(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(710)
    await open_from_journal(teacher, demo, CASE, "Нет")
    await teacher.send(demo[CASE].phone)

    await teacher.send("а это точно безопасно?")
    assert "Проверьте данные и нажмите кнопку «Создать учебный профиль» ниже." in teacher.last_text
    assert "Шаг 2 из 6" in teacher.last_text
    await teacher.click("Создать учебный профиль")
    assert "Пароль от VK ID" in teacher.last_text


async def test_text_on_gender_confirm_and_consent_windows(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(711)
    await reach_personal_data(teacher, demo)
    await teacher.send("Кузнецов Андрей Сергеевич")
    await teacher.send("03.09.1986")

    await teacher.send("мужчина")
    assert "Выберите, пожалуйста, пол кнопкой ниже: «Женский» или «Мужской»." in teacher.last_text
    await teacher.click("Мужской")

    await teacher.send("да")
    assert "Если всё верно, нажмите «Всё верно, продолжить»" in teacher.last_text
    assert "Проверьте данные" in teacher.last_text
    await teacher.click("Всё верно, продолжить")

    await teacher.send("хорошо")
    assert "Чтобы привязать профиль, нажмите «Привязать»" in teacher.last_text
    assert "Добавление профиля Сферум" in teacher.last_text
    await teacher.click("Привязать")
    assert "Готово!" in teacher.last_text

    await teacher.send("спасибо")
    assert "Всё уже готово" in teacher.last_text


async def test_text_on_the_profile_choice_of_scenario_b(app: BotApp, demo: Demo) -> None:
    case = "profile_exists_authorised"
    teacher = app.teacher(712)
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(demo[case].phone)
    await teacher.send(await demo.last_code(case))
    assert "Ваш профиль для связки" in teacher.last_text

    await teacher.send("это я")
    assert "Нажмите «Продолжить», чтобы привязать этот профиль" in teacher.last_text
    assert "Войти в другой аккаунт" in teacher.buttons()


async def test_restart_typed_on_the_gender_window(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(713)
    await reach_personal_data(teacher, demo)
    await teacher.send("Кузнецов Андрей Сергеевич")
    await teacher.send("03.09.1986")

    await teacher.send("начать заново")  # past the code: asked first
    assert "Начать заново?" in teacher.last_text
    await teacher.send("да")  # buttons only here
    assert "Ответьте, пожалуйста, кнопкой" in teacher.last_text
    await teacher.click("Вернуться к шагу")  # she changed her mind
    assert "Выберите пол" in teacher.last_text


async def test_help_screen_points_a_typed_problem_at_the_specialist(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(714)
    await open_from_journal(teacher, demo, CASE, "Нет")
    await teacher.click("Не получается")
    assert "Уже есть учебный профиль Сферум?" in teacher.last_text

    await teacher.send("у меня всё зависло на компьютере")
    assert "нажмите «🙋 Позвать специалиста»" in teacher.last_text
    assert "Не получается? Обычно помогает вот что:" in teacher.last_text
    await teacher.click("Вернуться к шагу")
    assert "Номер телефона" in teacher.last_text


# --------------------------------------------------------------------------- a person


async def test_call_a_person_typed_on_the_greeting_opens_a_ticket(hd: HelpdeskApp) -> None:
    demo = await Demo.load(hd.linking)
    teacher = hd.teacher(720)
    await greet(teacher, demo)
    await teacher.send("привет")
    assert "нажмите «Начнём»" in teacher.last_text

    await teacher.send("позовите человека")
    assert "Обращение #" in teacher.last_text
    assert only_topic(hd)

    await teacher.click("Вернуться к боту")
    assert "Здравствуйте, Андрей Сергеевич" in teacher.last_text
    assert "нажмите «Начнём»" not in teacher.last_text  # the old hint does not come back


async def test_text_on_the_rating_window_asks_for_stars(hd: HelpdeskApp) -> None:
    demo = await Demo.load(hd.linking)
    teacher = hd.teacher(721)
    await open_from_journal(teacher, demo, CASE, "Нет")
    await teacher.send("мне нужен оператор")
    await teacher.click("Завершить разговор")
    assert "Как вы оцениваете помощь?" in teacher.last_text

    await teacher.send("всё хорошо")
    assert "Оцените, пожалуйста, помощь кнопкой ниже: от 1 до 5 звёзд." in teacher.last_text
    await teacher.click("5 ⭐")
    assert "комментарий" in teacher.last_text


# --------------------------------------------------------------------------- English


async def english(teacher: Person) -> None:
    await teacher.send("/language")
    await teacher.click("English")


async def test_english_hints_on_button_windows(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(730, language_code="en")
    await english(teacher)
    await greet_en(teacher, demo)

    await teacher.send("hello")
    assert "When you are ready, press «Let's start» below." in teacher.last_text
    await teacher.click("Let's start")
    await teacher.click("VPN is off, continue")

    await teacher.send("how do I know?")
    assert "Please answer with a button below: «Yes», «No» or «I don't know»." in (
        teacher.last_text
    )
    await teacher.click("No")
    await teacher.send(demo[CASE].phone)
    await teacher.send("what now")
    assert "Check the details and press «Create a study profile» below." in teacher.last_text
    assert "Step 2 of 6" in teacher.last_text


async def test_english_free_text_opens_recovery_from_the_account_card(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(731, language_code="en")
    await english(teacher)
    await greet_en(teacher, demo)
    await teacher.click("Let's start")
    await teacher.click("VPN is off, continue")
    await teacher.click("No")
    await teacher.send(demo[CASE].phone)

    await teacher.send("I forgot my password")
    # The phone is known already: straight to the SMS code, the progress line says where she is.
    assert "Password recovery · step 2 of 6" in teacher.last_text
    assert "The code from the SMS" in teacher.last_text


async def test_english_hint_on_the_consent_card(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(732, language_code="en")
    await english(teacher)
    await greet_en(teacher, demo, "no_vkid")
    await teacher.click("Let's start")
    await teacher.click("VPN is off, continue")
    await teacher.click("I don't know")
    await teacher.send(demo["no_vkid"].phone)
    await teacher.send(await demo.last_code("no_vkid"))
    await fill_personal_data(teacher, "Смирнова Ольга Викторовна", "12.04.1979", "Female")
    await teacher.click("All correct, continue")

    await teacher.send("ok")
    assert "To link the profile, press «Link»; to refuse, press «Cancel»." in teacher.last_text
    assert "Step 4 of 4" in teacher.last_text


async def greet_en(teacher: Person, demo: Demo, case: str = CASE) -> None:
    await teacher.send("/start " + await demo.token(case))
    assert "Let's start" in teacher.buttons()
