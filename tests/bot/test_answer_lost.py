"""The backend did the step, but its answer did not reach the bot in time (an overloaded backend:
the client's timeout). The teacher reads «Сервис привязки сейчас не отвечает» and «Повторить» on
the same window — now out of step with the backend — and is never stuck there: repeating the
step finds the backend ahead («Этот шаг уже пройден») and shows the window it is at.

This is what the open loop under overload showed (bench/README.md, issue 13, stop 19): a
simulated teacher who typed on after such an answer failed steps later, at «Мужской».
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from services.linking_client import BackendUnavailable, LinkingClient
from tests.bot.helpers import Demo, fill_personal_data, reach_code, reach_password
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


def answer_lost(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The next `LinkingClient.<name>` reaches the backend, which does it; its answer is lost."""
    real = getattr(LinkingClient, name)

    @functools.wraps(real)
    async def timed_out(self: LinkingClient, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(LinkingClient, name, real)  # once
        await real(self, *args, **kwargs)
        raise BackendUnavailable.because("The linking service did not answer in time.")

    monkeypatch.setattr(LinkingClient, name, timed_out)


async def test_a_code_verified_whose_answer_was_lost_goes_on_at_the_name(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(820)
    await reach_code(teacher, demo)
    code = await demo.last_code(CASE)
    answer_lost(monkeypatch, "verify_code")

    await teacher.send(code)
    assert "Сервис привязки сейчас не отвечает" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text  # the code window, behind the backend
    await teacher.click("Повторить")
    assert "Пожалуйста, напишите код ещё раз" in teacher.last_text
    await teacher.send(code)  # the backend is past the code: it says so, the bot follows

    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    assert "Этот шаг уже пройден" in teacher.last_text
    assert "⚠️" not in teacher.last_text
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    assert "Всё верно, продолжить" in teacher.buttons()


async def test_any_code_step_button_after_a_lost_answer_shows_where_the_backend_is(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the code again: «Изменить номер» and a new number find the backend ahead too."""
    teacher = app.teacher(821)
    await reach_code(teacher, demo)
    answer_lost(monkeypatch, "verify_code")
    await teacher.send(await demo.last_code(CASE))
    assert "Сервис привязки сейчас не отвечает" in teacher.last_text

    await teacher.click("Изменить номер")
    await teacher.send(demo[CASE].phone)

    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    assert "Этот шаг уже пройден" in teacher.last_text


async def test_a_password_accepted_whose_answer_was_lost_goes_on_at_the_code(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = app.teacher(822)
    await reach_password(teacher, demo)
    answer_lost(monkeypatch, "submit_password")

    await teacher.send(demo[CASE].vk_password or "")
    assert "Сервис привязки сейчас не отвечает" in teacher.last_text
    assert await demo.codes_received(CASE) == 1  # the backend did it: the call is on its way
    await teacher.click("Повторить")
    assert "напишите пароль ещё раз" in teacher.last_text
    await teacher.send(demo[CASE].vk_password or "")

    assert "Подтвердите вход" in teacher.last_text
    assert "Этот шаг уже пройден" in teacher.last_text
    assert await demo.codes_received(CASE) == 1  # no second code
    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


async def test_a_link_redeemed_whose_answer_was_lost_greets_her_on_retry(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backend opened her flow but the bot never heard: «Повторить» (and the same link
    again) carry on with that flow — the link is hers, used by her — instead of «откройте меня
    из электронного журнала»."""
    teacher = app.teacher(823)
    token = await demo.token(CASE)
    answer_lost(monkeypatch, "start_flow")

    await teacher.send("/start " + token)
    assert "Повторить" in teacher.buttons()
    await teacher.click("Повторить")

    assert "Начнём" in teacher.buttons()
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(demo[CASE].phone)  # her flow, the one the lost answer opened
    assert "Создать учебный профиль" in teacher.buttons()


async def test_the_same_link_again_without_a_dialog_carries_on_with_her_flow(
    app: BotApp, demo: Demo
) -> None:
    """A repeat of her /start whose dialog state was never saved (the process died before it
    committed): the backend names her flow, the bot greets her with it."""
    teacher = app.teacher(824)
    token = await demo.token(CASE)
    await app.linking.for_user(824).start_flow(token)  # redeemed, and the bot knows nothing

    await teacher.send("/start " + token)

    assert "Начнём" in teacher.buttons()
    record = await app.sessions.get(824)
    assert record is not None and record.flow_id is not None


async def test_her_used_link_in_a_strangers_hands_opens_nothing(app: BotApp, demo: Demo) -> None:
    """Only the one who redeemed a link is carried on with its flow; anyone else presenting it
    is told how to open the assistant (the backend names the flow to her alone)."""
    token = await demo.token(CASE)
    await app.linking.for_user(825).start_flow(token)  # hers
    stranger = app.teacher(826)

    await stranger.send("/start " + token)

    assert "Открыть электронный журнал" in stranger.buttons()
    assert "Начнём" not in stranger.buttons()
    assert await app.sessions.get(826) is None


async def test_a_flow_of_hers_further_along_is_not_taken_up_by_the_same_link(
    app: BotApp, demo: Demo
) -> None:
    """Only a flow at its start is carried on: one where something was done already (here her
    number) is not restarted from the greeting by an old link; she is told how to open the
    assistant, as before."""
    token = await demo.token(CASE)
    linking = app.linking.for_user(827)
    flow = await linking.start_flow(token)
    await linking.submit_phone(flow.flow_id, demo[CASE].phone)
    teacher = app.teacher(827)

    await teacher.send("/start " + token)

    assert "Открыть электронный журнал" in teacher.buttons()


async def test_the_backend_away_while_her_flow_is_looked_up_offers_retry_not_the_e_journal(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Her link is used by her; looking its flow up finds the backend away: «Повторить», which
    then carries on with her flow — not «откройте меня из электронного журнала»."""
    token = await demo.token(CASE)
    await app.linking.for_user(828).start_flow(token)
    real = LinkingClient.get_flow

    async def away(self: LinkingClient, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(LinkingClient, "get_flow", real)  # once
        raise BackendUnavailable.because("The linking service did not answer in time.")

    monkeypatch.setattr(LinkingClient, "get_flow", away)
    teacher = app.teacher(828)

    await teacher.send("/start " + token)
    assert "Повторить" in teacher.buttons()
    await teacher.click("Повторить")

    assert "Начнём" in teacher.buttons()
