"""The link steps and the recovery steps answer alike: contacts, stickers, stray commands, codes,
countdowns and stale windows are handled the same way in both (one toolkit, one set of answers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from tests.bot.helpers import Demo, open_from_journal, reach_code, reach_password
from tests.recovery.steps import open_recovery_from_password
from tests.support.bot_app import BotApp, make_bot_app
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"
APP = "forgot_password_app"
FOREIGN = "Это чужой контакт"
ONLY_TEXT = "Здесь я понимаю только текст и кнопки"
UNKNOWN_COMMAND = "Такой команды я не знаю"


async def at_link_phone(teacher: Person, demo: Demo) -> str:
    await open_from_journal(teacher, demo, CASE, "Нет")
    return "Номер телефона"


async def at_recovery_phone(teacher: Person, demo: Demo) -> str:
    await teacher.send("забыла пароль")
    return "Восстановление пароля от VK ID"


PHONE_STEPS = {"link": at_link_phone, "recovery": at_recovery_phone}


@pytest.mark.parametrize("flow", PHONE_STEPS)
@pytest.mark.parametrize("card", ["someone else's", "from the address book"])
async def test_a_contact_that_is_not_her_own_is_refused(
    app: BotApp, demo: Demo, flow: str, card: str
) -> None:
    teacher = app.teacher(1200)
    window = await PHONE_STEPS[flow](teacher, demo)
    phone = demo[APP if flow == "recovery" else CASE].phone

    await teacher.share_contact(phone, own=False, from_address_book=card != "someone else's")

    assert FOREIGN in teacher.last_text
    assert window in teacher.last_text  # still the phone step
    assert await demo.codes_received(APP if flow == "recovery" else CASE) == 0


async def test_her_own_contact_starts_the_recovery(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(1201)
    await at_recovery_phone(teacher, demo)
    await teacher.share_contact(demo[APP].phone.removeprefix("+"))
    assert "SMS с кодом отправлено на телефон +7 *** ***-**-07" in teacher.last_text


async def at_link_code(teacher: Person, demo: Demo) -> str:
    await reach_code(teacher, demo)
    return "Подтвердите вход"


async def at_recovery_code(teacher: Person, demo: Demo) -> str:
    await open_recovery_from_password(teacher, demo, APP)
    return "Введите код"


CODE_STEPS = {"link": at_link_code, "recovery": at_recovery_code}


@pytest.mark.parametrize("flow", CODE_STEPS)
async def test_stickers_and_stray_commands_get_the_same_answers(
    app: BotApp, demo: Demo, flow: str
) -> None:
    teacher = app.teacher(1202)
    window = await CODE_STEPS[flow](teacher, demo)

    await teacher.send_sticker()
    assert ONLY_TEXT in teacher.last_text and window in teacher.last_text
    await teacher.send("/stop")
    assert UNKNOWN_COMMAND in teacher.last_text and window in teacher.last_text
    await teacher.send("1" * 301)
    assert "слишком длинное" in teacher.last_text and window in teacher.last_text


@pytest.mark.parametrize("flow", CODE_STEPS)
async def test_a_code_in_other_digits_is_refused_without_spending_an_attempt(
    app: BotApp, demo: Demo, flow: str
) -> None:
    teacher = app.teacher(1203)
    await CODE_STEPS[flow](teacher, demo)
    right = await demo.last_code(APP if flow == "recovery" else CASE)
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in right)

    await teacher.send(arabic_indic)
    assert f"Код должен состоять из {len(right)} цифр" in teacher.last_text

    await teacher.send("0" * len(right) if right != "0" * len(right) else "1" * len(right))
    assert "Код неверный. Осталось 4 попытки." in teacher.last_text  # the first one spent


class AheadClock:
    """The bot's clock, running ten minutes ahead of the backend's."""

    def __init__(self, backend_clock: FakeClock) -> None:
        self.backend_clock = backend_clock

    def now(self) -> datetime:
        return self.backend_clock.now() + timedelta(minutes=10)


@pytest.fixture
async def ahead(tmp_path: Path, backend: RunningBackend, clock: FakeClock) -> AsyncIterator[BotApp]:
    async with make_bot_app(tmp_path, backend.url, clock=AheadClock(clock)) as bot_app:
        yield bot_app


async def test_countdowns_run_on_the_bots_clock_in_both_flows(ahead: BotApp) -> None:
    """The backend's own clock is behind: its absolute «resend at» would read as long past."""
    demo = await Demo.load(ahead.linking)
    linking = ahead.teacher(1204)
    await reach_code(linking, demo)
    assert "Звонок поступит в течение 0:56" in linking.last_text

    recovery = ahead.teacher(1205)
    await open_recovery_from_password(recovery, demo, APP)
    assert "Отправить SMS через 1:15" in recovery.buttons()


async def test_a_stale_window_in_the_link_says_so_and_shows_where_she_is(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(1206)
    await reach_password(teacher, demo)
    assert "Пароль от VK ID" in teacher.last_text
    # Meanwhile the flow moves on elsewhere (a second device, a repeated request).
    record = await app.sessions.get(1206)
    assert record is not None and record.flow_id
    await app.linking.for_user(1206).submit_password(record.flow_id, demo[CASE].vk_password or "")

    await teacher.send(demo[CASE].vk_password or "")  # the backend is past the password already
    assert "Этот шаг уже пройден. Вот где вы сейчас." in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text
    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text
