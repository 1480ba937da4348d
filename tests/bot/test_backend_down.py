"""The backend is down: a clear message and «Повторить»; the teacher's step is kept."""

from __future__ import annotations

import socket

from services.linking_client import LinkingClient
from tests.bot.helpers import Demo, open_from_journal, reach_password
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_outage_at_the_phone_step_offers_retry_and_keeps_the_step(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(600)
    await open_from_journal(teacher, demo, CASE, "Нет")
    async with LinkingClient(closed_port_url(), retries=0) as dead:
        app.dp["linking"] = dead
        await teacher.send(demo[CASE].phone)
        assert "Сервис привязки сейчас не отвечает" in teacher.last_text
        assert "Номер телефона" in teacher.last_text
        assert "Повторить" in teacher.buttons()
        await teacher.click("Повторить")  # still down
        assert "Сервис привязки сейчас не отвечает" in teacher.last_text

    app.dp["linking"] = app.linking
    await teacher.click("Повторить")
    assert "Создать учебный профиль" in teacher.buttons()
    record = await app.sessions.get(600)
    assert record is not None and [e["code"] for e in record.last_errors] == [
        "unavailable",
        "unavailable",
    ]


async def test_outage_at_the_password_asks_to_send_it_again(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(601)
    await reach_password(teacher, demo)
    async with LinkingClient(closed_port_url(), retries=0) as dead:
        app.dp["linking"] = dead
        await teacher.send(demo[CASE].vk_password or "")
        assert "Сервис привязки сейчас не отвечает" in teacher.last_text
    app.dp["linking"] = app.linking
    await teacher.click("Повторить")
    assert "напишите пароль ещё раз" in teacher.last_text
    await teacher.send(demo[CASE].vk_password or "")
    assert "Подтвердите вход" in teacher.last_text


async def test_outage_when_opening_the_link(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(602)
    token = await demo.token(CASE)
    async with LinkingClient(closed_port_url(), retries=0) as dead:
        app.dp["linking"] = dead
        await teacher.send("/start " + token)
        assert "Сервис привязки сейчас не отвечает" in teacher.last_text
    app.dp["linking"] = app.linking
    await teacher.click("Повторить")
    assert "Здравствуйте, Андрей Сергеевич!" in teacher.last_text


async def test_outage_on_start_over_keeps_the_question_and_the_same_button_retries(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(609)
    await reach_password(teacher, demo)
    await teacher.click("Начать заново")
    assert "Начать заново?" in teacher.last_text
    async with LinkingClient(closed_port_url(), retries=0) as dead:
        app.dp["linking"] = dead
        await teacher.click("Да, начать заново")
        assert "Сервис привязки сейчас не отвечает" in teacher.last_text
        assert "Начать заново?" in teacher.last_text  # the question stays, nothing lost
    app.dp["linking"] = app.linking
    await teacher.click("Да, начать заново")
    assert "Здравствуйте, Андрей Сергеевич!" in teacher.last_text
