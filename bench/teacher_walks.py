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

from bot.handlers.stale_buttons import RESUME
from bot.handlers.start import RETRY_START
from services.linking_client import LinkingClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not an installed package
from tests.support.fake_telegram import FakeTelegram, Person

__all__ = [
    "STEP_NAMES",
    "WALKS",
    "FakeTelegram",
    "ReplyClock",
    "RetryOffered",
    "TimedPerson",
    "echo_walk",
]

# What the teacher sees change in her chat (not the spinner's answerCallbackQuery).
_REPLIES = frozenset(
    {
        "SendMessage",
        "SendPhoto",
        "SendDocument",
        "EditMessageText",
        "EditMessageCaption",
        "EditMessageMedia",
    }
)  # not EditMessageReplyMarkup: an old window losing its buttons is not an answer to her


class ReplyClock(FakeTelegram):
    """FakeTelegram that notes when the bot's first reply to a teacher's update reaches her chat."""

    def __init__(self, rtt: float = 0.0) -> None:
        super().__init__()
        # Seconds of a round trip to Telegram: each call reaches her chat half of it after it
        # was made and returns after all of it (0: a Telegram that answers instantly).
        self.rtt = rtt
        self.waiting: dict[int, float] = {}  # chat id → when her update was fed
        self.replies: list[float] = []  # seconds from an update to the first reply it caused
        # Called in the task feeding an update, then in the task sending its first reply (with
        # the seconds between): the bench's --stalls splits a reply's time with them.
        self.on_feed: Callable[[int], None] | None = None  # with her chat id
        self.on_reply: Callable[[float], None] | None = None
        # With `record()`: per chat, what she sent and what the bot did in her chat, in order
        # (the failure report of scenario_bench.py prints the failed teachers' transcripts).
        self.transcripts: dict[int, list[str]] | None = None
        self._epoch = time.perf_counter()

    def record(self) -> None:
        """Keep every chat's transcript from now on (`note`, and the bot's calls)."""
        self.transcripts = {}
        self._epoch = time.perf_counter()

    def note(self, chat_id: int, line: str) -> None:
        if self.transcripts is not None:
            stamp = f"{(time.perf_counter() - self._epoch) * 1000:10.1f} ms  "
            self.transcripts.setdefault(chat_id, []).append(stamp + line)

    async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:  # noqa: ASYNC109
        if self.rtt:
            await asyncio.sleep(self.rtt / 2)  # on its way to Telegram
            try:
                return await self._answer(bot, method, timeout)
            finally:
                await asyncio.sleep(self.rtt / 2)  # the answer on its way back
        return await self._answer(bot, method, timeout)

    async def _answer(self, bot: Any, method: Any, timeout: int | None) -> Any:  # noqa: ASYNC109
        name = type(method).__name__
        if name in _REPLIES:
            started = self.waiting.pop(getattr(method, "chat_id", None), None)  # type: ignore[arg-type]
            if started is not None:
                self.replies.append(time.perf_counter() - started)
                if self.on_reply is not None:
                    self.on_reply(self.replies[-1])
        if self.transcripts is None or name == "AnswerCallbackQuery":
            return await super().make_request(bot, method, timeout)
        chat_id = getattr(method, "chat_id", None)
        try:
            answer = await super().make_request(bot, method, timeout)
        except Exception as error:
            if isinstance(chat_id, int):
                self.note(chat_id, f"bot {_describe(method)} -> {error!r}"[:300])
            raise
        if isinstance(chat_id, int):
            made = getattr(answer, "message_id", None)
            self.note(chat_id, f"bot {_describe(method)}" + (f" -> #{made}" if made else ""))
        return answer


def _describe(method: Any) -> str:
    """One line for a Bot API call in a chat: its name, message, first line of text, buttons."""
    parts = [type(method).__name__]
    if getattr(method, "message_id", None) is not None:
        parts.append(f"#{method.message_id}")
    text = getattr(method, "text", None) or getattr(method, "caption", None)
    if text:
        parts.append(repr(text.splitlines()[0][:60]))
    markup = getattr(method, "reply_markup", None)
    rows = getattr(markup, "inline_keyboard", None)
    if rows is not None:
        parts.append(str([button.text[:24] for row in rows for button in row]))
    elif markup is not None:
        parts.append(type(markup).__name__)
    return " ".join(parts)


class RetryOffered(RuntimeError):
    """The bot answered a teacher's update with «Повторить» (the backend did not answer in time,
    or refused for a VPN) or the last resort «Попробовать ещё раз»: her step is not confirmed.

    The walks used to go on blind, typing the next step's answer into the same window, and failed
    steps later with a misleading «no button 'Мужской'» (bench/README.md, issue 13, stop 19)."""


# The callback data of the buttons that offer to repeat a step: the step frame's «Повторить» /
# «VPN выключен — повторить» (bot/dialogs/backend_step.py, widget ids after aiogram-dialog's
# separator), /start's «Повторить» (bot/handlers/start.py) and the last resort's «Попробовать
# ещё раз» (bot/handlers/errors.py).
_RETRY_WIDGETS = ("\x1dretry", "\x1dretry_vpn")
_RETRY_DATA = frozenset({RETRY_START, RESUME})


def retry_offer(person: Person) -> str | None:
    """The bot's words if the window on screen offers to repeat the step, else None."""
    message = person._last_with_keyboard()
    if message is None or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            data = button.callback_data or ""
            if data in _RETRY_DATA or data.endswith(_RETRY_WIDGETS):
                lines = [line for line in (message.text or "").splitlines() if line.strip()]
                return lines[-1][:160] if lines else button.text
    return None


def _window_title(person: Person) -> str:
    """The bold title of the window on screen («Подтвердите вход»…), for a failure's name."""
    message = person._last_with_keyboard()
    text = (message.text or message.caption or "") if message is not None else ""
    start = text.find("<b>")
    end = text.find("</b>", start)
    return text[start + 3 : end] if 0 <= start < end else text.split("\n")[0][:40]


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
        clock = self.telegram if isinstance(self.telegram, ReplyClock) else None
        if clock is not None:
            clock.waiting[self.chat.id] = started
            if clock.on_feed is not None:
                clock.on_feed(self.chat.id)
            if clock.transcripts is not None:
                clock.note(self.chat.id, "she " + _sent(update))
        await self.dp.feed_update(self.bot, update)
        elapsed = time.perf_counter() - started
        if clock is not None and clock.transcripts is not None:
            clock.note(self.chat.id, f"    handled in {elapsed * 1000:.1f} ms")
        self.latencies.append(elapsed)
        self.own_latencies.append(elapsed)
        offered = retry_offer(self)
        if offered is not None:  # a person reads this and repeats; the walk cannot go on blind
            step = len(self.own_latencies)
            raise RetryOffered(f"update {step} ({_describe_update(update, self)}): {offered!r}")
        return update


def _describe_update(update: Update, person: Person) -> str:
    """What she did, without what she typed: «pressed create_profile», «typed in «Пароль…»»
    (the window that offers the retry is the one she answered, shown again)."""
    if update.callback_query is not None:
        return f"pressed {(update.callback_query.data or '').rpartition(chr(29))[2]}"
    text = update.message.text if update.message is not None else None
    if text and text.startswith("/"):
        return f"sent {text.split()[0]}"
    return f"typed in «{_window_title(person)}»"


def _sent(update: Update) -> str:
    if update.callback_query is not None:
        query = update.callback_query
        return f"presses {query.data!r} on #{query.message.message_id if query.message else '?'}"
    message = update.message
    if message is None:
        return update.event_type
    return f"sends #{message.message_id} {_shape(message.text or '')!r}"


def _shape(text: str) -> str:
    """A typed text's shape only (passwords, phones, names and codes are never printed):
    «/start», then 9 for a digit, a for a letter, the rest as it is («99.99.9999»)."""
    if text.startswith("/"):
        return text.split()[0]
    return "".join("9" if c.isdigit() else "a" if c.isalpha() else c for c in text[:40])


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
