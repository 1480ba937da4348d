"""Guide mode end to end, without a browser: the teacher links in the e-journal's window (driven
here through the window's own API over HTTP, as the sandbox page does) while the bot, following
her flow's events from the real backend, says what to do on each screen and reacts to what
happens there. The watcher's rounds are pumped by the test (no sleeps): each `follow()` call is
one long-poll round with no wait.
"""

from __future__ import annotations

import pytest
from aiogram.methods import SendPhoto

from services.clock import FakeClock
from services.linking_client import (
    CodeInvalid,
    LinkingClient,
    VpnDetected,
    WrongPassword,
)
from tests.bot.helpers import Demo
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"


class Window:
    """The e-journal's linking window of one teacher: the same flow, the journal's side."""

    def __init__(self, app: BotApp, demo: Demo, case: str) -> None:
        self.app, self.demo, self.case = app, demo, case
        self.account = demo[case]
        self.api: LinkingClient = app.linking.for_journal(self.account.mesh_account_id)
        self.flow_id = ""

    async def open(self) -> None:
        """«Перейти к подключению»: the window finds the flow the bot opened."""
        self.flow_id = (await self.api.mesh_account_flow(self.account.mesh_account_id)).flow_id
        await self.api.report_screen(self.flow_id, "vkid_phone")

    async def phone(self) -> None:
        await self.api.submit_phone(self.flow_id, self.account.phone)

    async def password(self, password: str | None = None) -> None:
        await self.api.submit_password(self.flow_id, password or self.account.vk_password or "")

    async def code(self, code: str | None = None) -> None:
        await self.api.verify_code(self.flow_id, code or await self.demo.last_code(self.case))

    async def personal_data(self) -> None:
        flow = await self.api.get_flow(self.flow_id)
        data = flow.personal_data
        await self.api.submit_personal_data(
            self.flow_id,
            full_name=data.full_name if data else self.account.full_name,
            birth_date=data.birth_date if data else self.account.birth_date,
            gender=data.gender if data else self.account.gender,
        )

    async def link(self) -> None:
        await self.api.give_consent(self.flow_id, link=True)


async def follow(app: BotApp, window: Window) -> None:
    """One round of the bot's watcher: read the new events from the backend and show them."""
    await app.guide.pump(window.flow_id)


def photos(app: BotApp) -> int:
    return len(app.telegram.calls_of(SendPhoto))


async def guide_from_greeting(teacher: Person, demo: Demo, case: str = CASE) -> None:
    await teacher.send("/start " + await demo.token(case))
    await teacher.click("Я сделаю сама в электронном журнале")


async def test_teacher_links_in_the_window_and_the_bot_guides_each_screen(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(700)
    await teacher.send("/start " + await demo.token(CASE))
    assert "Я сделаю сама в электронном журнале" in teacher.last_text  # offered at the start
    before = photos(app)
    await teacher.click("Я сделаю сама в электронном журнале")
    assert "«Мессенджер не подключен»" in teacher.last_text
    assert "Перейти к подключению" in teacher.last_text
    assert photos(app) == before + 1  # the messenger icon, above the window
    assert teacher.buttons() == ["🤖 Сделай за меня в чате", "🙋 Позвать специалиста"]

    window = Window(app, demo, CASE)
    await window.open()
    await follow(app, window)
    assert "«Вход в VK ID»" in teacher.last_text
    assert "Телефон или почта" in teacher.last_text
    assert photos(app) == before + 2  # the VK ID phone window, its field and «Продолжить»

    await window.phone()
    await follow(app, window)
    assert "«Введите пароль»" in teacher.last_text
    assert "Создать учебный профиль" in teacher.last_text
    assert "Забыли или не установили пароль?" in teacher.last_text

    await window.password()
    await follow(app, window)
    assert "«Подтвердите вход»" in teacher.last_text
    assert "последние 4 цифры номера, с которого вам позвонили" in teacher.last_text

    await window.code()
    await follow(app, window)
    assert "«Информация о себе»" in teacher.last_text

    await window.personal_data()
    shown = photos(app)
    await follow(app, window)
    assert "«Добавление профиля Сферум»" in teacher.last_text
    assert "Привязать" in teacher.last_text
    assert photos(app) == shown + 1  # where «Привязать» is

    await window.link()
    await follow(app, window)
    assert "успешно привязан" in teacher.last_text
    assert teacher.buttons() == []  # nothing left to do
    assert not app.guide.following(window.flow_id)  # the watcher stopped with the flow


async def test_a_wrong_code_in_the_window_gets_which_digits_to_type(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(701)
    await guide_from_greeting(teacher, demo)
    window = Window(app, demo, CASE)
    await window.open()
    await window.phone()
    await window.password()
    await follow(app, window)
    shown = photos(app)  # the call-reset picture came with the screen
    right = await demo.last_code(CASE)
    with pytest.raises(CodeInvalid):  # the window shows its refusal
        await window.code("0000" if right != "0000" else "1111")
    await follow(app, window)
    assert "Код не подошёл" in teacher.last_text
    assert "последние 4 цифры номера, с которого вам позвонили" in teacher.last_text
    assert "напишите 4567" in teacher.last_text
    assert "Осталось 4 попытки" in teacher.last_text
    assert "«Подтвердите вход»" in teacher.last_text  # still on that screen
    assert photos(app) == shown  # its picture is not sent again


async def test_a_wrong_password_in_the_window_points_to_recovery(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(702)
    await guide_from_greeting(teacher, demo)
    window = Window(app, demo, CASE)
    await window.open()
    await window.phone()
    with pytest.raises(WrongPassword):  # the window shows its refusal
        await window.password("не-тот-пароль")
    await follow(app, window)
    assert "Пароль от VK ID не подошёл. Осталось 4 попытки." in teacher.last_text
    assert "Забыли или не установили пароль?" in teacher.last_text


async def test_a_vpn_refusal_in_the_window_gets_how_to_turn_it_off(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(703)
    await guide_from_greeting(teacher, demo)
    window = Window(app, demo, CASE)
    await window.open()
    await app.linking.dev_set_vpn(enabled=True, mesh_account_id=window.account.mesh_account_id)
    with pytest.raises(VpnDetected):  # the window shows its refusal
        await window.phone()
    await follow(app, window)
    assert "включён VPN" in teacher.last_text
    assert "«Отключить»" in teacher.last_text
    await app.linking.dev_set_vpn(enabled=False, mesh_account_id=window.account.mesh_account_id)
    await window.phone()
    await follow(app, window)
    assert "VPN" not in teacher.last_text  # the reaction belongs to the refusal only
    assert "«Введите пароль»" in teacher.last_text


async def test_no_call_within_0_56_suggests_the_sms(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(704)
    await guide_from_greeting(teacher, demo)
    window = Window(app, demo, CASE)
    await window.open()
    await window.phone()
    await window.password()
    await follow(app, window)
    clock.advance(30)
    await follow(app, window)
    assert "Звонок не поступил" not in teacher.last_text  # not before its time
    clock.advance(27)
    await follow(app, window)
    assert "Звонок не поступил? Нажмите в окне «Получить код по SMS»" in teacher.last_text
    await window.api.send_code(window.flow_id, "sms")
    await follow(app, window)
    assert "SMS с кодом" in teacher.last_text


async def test_about_to_make_a_second_profile_is_stopped(app: BotApp, demo: Demo) -> None:
    case = "profile_exists"
    teacher = app.teacher(705)
    await guide_from_greeting(teacher, demo, case)
    window = Window(app, demo, case)
    await window.open()
    await window.phone()
    await follow(app, window)
    assert "У вас уже есть учебный профиль, и VK ID просит пароль от него" in teacher.last_text
    assert "Создать учебный профиль" not in teacher.last_text  # B: no account card
    await window.password()
    await window.code()
    await follow(app, window)
    assert "«Ваш профиль для связки»" in teacher.last_text
    await window.api.switch_account(window.flow_id)  # «Войти в другой аккаунт»
    await follow(app, window)
    assert "Стоп: на ваш номер уже есть учебный профиль Сферум" in teacher.last_text
    assert "Не создавайте второй" in teacher.last_text


async def test_switching_modes_midway_ends_linked(app: BotApp, demo: Demo) -> None:
    """Chat → window at the password («Не хочу вводить пароль в чат») → chat again at the code."""
    teacher = app.teacher(706)
    await teacher.send("/start " + await demo.token(CASE))
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(demo[CASE].phone)
    assert "🖥 Я сделаю сама в электронном журнале" in teacher.buttons()  # at every step
    await teacher.click("Создать учебный профиль")
    await teacher.click("Не хочу вводить пароль в чат")
    assert "«Введите пароль»" in teacher.last_text  # the screen the window is on now

    window = Window(app, demo, CASE)
    window.flow_id = (await window.api.mesh_account_flow(window.account.mesh_account_id)).flow_id
    await window.password()  # typed in the window, never in the chat
    await follow(app, window)
    assert "«Подтвердите вход»" in teacher.last_text

    await teacher.click("Сделай за меня в чате")
    assert "с того шага, до которого вы дошли в окне" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text  # the chat's own code step
    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    await teacher.send(window.account.full_name)
    await teacher.send("03.09.1986")
    await teacher.click("Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert not app.guide.following(window.flow_id)


async def test_what_happened_in_the_chat_before_is_not_replayed(app: BotApp, demo: Demo) -> None:
    """A wrong password typed in the chat, then «Не хочу вводить пароль в чат»: the window starts
    clean; only what happens from now on gets a reaction."""
    teacher = app.teacher(707)
    await teacher.send("/start " + await demo.token(CASE))
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(demo[CASE].phone)
    await teacher.click("Создать учебный профиль")
    await teacher.send("не-тот-пароль")
    assert "Осталось 4 попытки" in teacher.last_text
    await teacher.click("Не хочу вводить пароль в чат")
    window = Window(app, demo, CASE)
    window.flow_id = (await window.api.mesh_account_flow(window.account.mesh_account_id)).flow_id
    sent = len(teacher.log.messages)
    await follow(app, window)
    assert len(teacher.log.messages) == sent  # nothing new: no replay of the chat's refusal
    with pytest.raises(WrongPassword):
        await window.password("снова-не-тот")
    await follow(app, window)
    assert "Осталось 3 попытки" in teacher.last_text  # one series with the chat's attempt


async def test_guide_mode_speaks_her_language(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(708, language_code="en")
    await teacher.send("/start " + await demo.token(CASE))
    await teacher.send("/language")
    await teacher.click("English")
    await teacher.click("I will do it myself in the e-journal")
    assert "press the messenger icon" in teacher.last_text
    assert "«Мессенджер не подключен»" in teacher.last_text  # the window's own words
    window = Window(app, demo, CASE)
    await window.open()
    await window.phone()
    with pytest.raises(WrongPassword):
        await window.password("wrong-one")
    await follow(app, window)  # from the watcher's task, still in her language
    assert "The VK ID password did not fit. 4 attempts left." in teacher.last_text
    assert teacher.buttons() == ["🤖 Do it for me in the chat", "🙋 Call a specialist"]


async def test_the_same_screen_again_sends_nothing_but_a_repeated_refusal_does(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(709)
    await guide_from_greeting(teacher, demo)
    window = Window(app, demo, CASE)
    await window.open()
    await window.phone()
    await follow(app, window)
    assert "«Введите пароль»" in teacher.last_text
    sent = len(teacher.log.messages)
    await window.api.report_screen(window.flow_id, "account")  # «Проверьте учетные данные»
    await follow(app, window)
    assert len(teacher.log.messages) == sent  # the password screen's words already cover it
    await app.linking.dev_set_vpn(enabled=True, mesh_account_id=window.account.mesh_account_id)
    for _ in range(2):  # she presses «Продолжить» again with the VPN still on
        with pytest.raises(VpnDetected):
            await window.api.submit_phone(window.flow_id, window.account.phone)
        before = len(teacher.log.messages)
        await follow(app, window)
        assert len(teacher.log.messages) > before and "включён VPN" in teacher.last_text
