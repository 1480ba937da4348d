"""Simulated teachers walking the real bot's scenarios, each update timed at `feed_update`.

A teacher is the tests' `Person` (tests/support/fake_telegram.py): she types, presses the inline
buttons of the messages the bot really sent (found by their text), and reads her codes from the
backend's dev inbox through the client, as the tests do.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiogram.types import Update
from linking_process import BenchTeacher

from services.linking_client import LinkingClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not an installed package
from tests.support.fake_telegram import FakeTelegram, Person

__all__ = ["STEP_NAMES", "WALKS", "FakeTelegram", "ReplyClock", "TimedPerson", "echo_walk"]

# What the teacher sees change in her chat (not the spinner's answerCallbackQuery).
_REPLIES = frozenset(
    {
        "SendMessage",
        "SendPhoto",
        "SendDocument",
        "EditMessageText",
        "EditMessageCaption",
        "EditMessageMedia",
        "EditMessageReplyMarkup",
    }
)


class ReplyClock(FakeTelegram):
    """FakeTelegram that notes when the bot's first reply to a teacher's update reaches her chat."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: dict[int, float] = {}  # chat id → when her update was fed
        self.replies: list[float] = []  # seconds from an update to the first reply it caused
        # Called in the task feeding an update, then in the task sending its first reply (with
        # the seconds between): the bench's --stalls splits a reply's time with them.
        self.on_feed: Callable[[int], None] | None = None  # with her chat id
        self.on_reply: Callable[[float], None] | None = None

    async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
        if type(method).__name__ in _REPLIES:
            started = self.waiting.pop(getattr(method, "chat_id", None), None)  # type: ignore[arg-type]
            if started is not None:
                self.replies.append(time.perf_counter() - started)
                if self.on_reply is not None:
                    self.on_reply(self.replies[-1])
        return await super().make_request(bot, method, timeout)


class TimedPerson(Person):
    """A Person whose every update's `Dispatcher.feed_update` time is appended to `latencies`.

    With `pause` (a function giving seconds), she first pauses like a person reading and typing:
    the open-loop mode of scenario_bench.py.
    """

    def __init__(
        self,
        *args: Any,
        latencies: list[float],
        pause: Callable[[], float] | None = None,
        starts: list[float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.latencies = latencies
        self.own_latencies: list[float] = []  # this teacher's, in step order
        self.pause = pause
        self.starts = starts  # when each update was fed (the open loop's achieved rate)

    async def feed(self, **event: Any) -> Update:
        if self.pause is not None:
            await asyncio.sleep(self.pause())
        update = Update(update_id=next(self._update_ids), **event)
        started = time.perf_counter()
        if self.starts is not None:
            self.starts.append(started)
        if isinstance(self.telegram, ReplyClock):
            self.telegram.waiting[self.chat.id] = started
            if self.telegram.on_feed is not None:
                self.telegram.on_feed(self.chat.id)
        await self.dp.feed_update(self.bot, update)
        elapsed = time.perf_counter() - started
        self.latencies.append(elapsed)
        self.own_latencies.append(elapsed)
        return update


async def _code(linking: LinkingClient, phone: str) -> str:
    inbox = await linking.dev_inbox(phone)
    if not inbox:
        raise RuntimeError("no code reached the phone")
    return inbox[-1].code


async def _open(person: Person, token: str, answer: str) -> None:
    """Deep link from the e-journal, the pre-checks, the branch question."""
    await person.send("/start " + token)
    await person.click("Начнём")
    await person.click("VPN выключен, продолжить")
    await person.click(answer)


async def _personal_data(person: Person, teacher: BenchTeacher) -> None:
    await person.send(teacher.full_name)
    await person.send(teacher.birth_date.strftime("%d.%m.%Y"))
    await person.click("Женский" if teacher.gender == "female" else "Мужской")
    await person.click("Всё верно, продолжить")


async def walk_new_profile(
    person: Person, teacher: BenchTeacher, token: str, linking: LinkingClient
) -> None:
    """Scenario A: VK ID without a Sferum profile (13 updates)."""
    await _open(person, token, "Нет")
    await person.send(teacher.phone)
    await person.click("Создать учебный профиль")
    await person.send(teacher.password or "")
    await person.send(await _code(linking, teacher.phone))
    await _personal_data(person, teacher)
    await person.click("Привязать")


async def walk_existing_profile(
    person: Person, teacher: BenchTeacher, token: str, linking: LinkingClient
) -> None:
    """Scenario B: the profile exists, the messenger session is not authorised (10 updates)."""
    await _open(person, token, "Да")
    await person.send(teacher.phone)
    await person.send(teacher.password or "")
    await person.send(await _code(linking, teacher.phone))
    await person.click("Продолжить")
    await person.click("Всё верно, продолжить")
    await person.click("Привязать")


async def walk_registration(
    person: Person, teacher: BenchTeacher, token: str, linking: LinkingClient
) -> None:
    """Registration: no VK ID at all (11 updates)."""
    await _open(person, token, "Не знаю")
    await person.send(teacher.phone)
    await person.send(await _code(linking, teacher.phone))
    await _personal_data(person, teacher)
    await person.click("Привязать")


_OPEN = ["/start <token>", "«Начнём»", "«VPN выключен»"]
_DATA = ["full name", "birth date", "«Женский»", "«Всё верно»"]
STEP_NAMES: dict[str, list[str]] = {
    "new_profile": [
        *_OPEN,
        *("«Нет»", "phone", "«Создать учебный профиль»", "password", "code"),
        *_DATA,
        "«Привязать»",
    ],
    "existing_profile": [
        *_OPEN,
        *("«Да»", "phone", "password", "code", "«Продолжить»", "«Всё верно»", "«Привязать»"),
    ],
    "registration": [*_OPEN, "«Не знаю»", "phone", "code", *_DATA, "«Привязать»"],
}

Walk = Callable[[Person, BenchTeacher, str, LinkingClient], Awaitable[None]]

# scenario → (walk, updates per teacher)
WALKS: dict[str, tuple[Walk, int]] = {
    "new_profile": (walk_new_profile, 13),
    "existing_profile": (walk_existing_profile, 10),
    "registration": (walk_registration, 11),
}


async def echo_walk(person: Person, updates: int) -> None:
    """The echo bot's teacher: the same number of updates, all plain messages."""
    for step in range(updates):
        await person.send(f"сообщение {step}")
