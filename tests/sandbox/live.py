"""The whole sandbox with the real bot polling it, and drivers that act like people in the page.

Teachers and operators act through the page's HTTP API (exactly what the browser calls); waiting
is event-driven: a check is re-run after every change the world publishes, never on a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiogram import BaseMiddleware
from aiogram.types import Update

from bot.config import Settings
from bot.sandbox import Sandbox, start_sandbox
from services.sandbox.people import Teacher

T = TypeVar("T")
WAIT_SECONDS = 15.0


def text_of(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


class UpdateTracker(BaseMiddleware):
    """Knows when the bot has finished every update it was sent (state saved, answers sent).

    A person reads the screen before tapping; a test acting the very millisecond a message
    appears could overtake the bot's own bookkeeping for the previous update. Waiting for the bot
    to be idle before each action plays the person's pause without a timer.
    """

    def __init__(self) -> None:
        self.in_flight = 0
        self.newest_done = 0
        self._changed = asyncio.Condition()

    async def __call__(self, handler, event: Update, data):
        self.in_flight += 1
        try:
            return await handler(event, data)
        finally:
            self.in_flight -= 1
            self.newest_done = max(self.newest_done, event.update_id)
            async with self._changed:
                self._changed.notify_all()

    async def idle(self, newest_sent: Callable[[], int]) -> None:
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.in_flight == 0 and self.newest_done >= newest_sent()
            )


@dataclass
class Live:
    sandbox: Sandbox
    http: aiohttp.ClientSession
    tracker: UpdateTracker

    async def bot_idle(self) -> None:
        """Wait until the bot has handled every update sent so far."""
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                await self.tracker.idle(lambda: self.world.updates.last_update_id)
        except TimeoutError:
            raise AssertionError("the bot is still busy with earlier updates") from None

    @property
    def world(self):
        return self.sandbox.world

    async def wait(
        self, check: Callable[[], T | None], what: str, screen: Callable[[], Any] = lambda: None
    ) -> T:
        """Re-run `check` after every world change until it returns something."""
        with self.world.events.subscribe() as changes:
            try:
                async with asyncio.timeout(WAIT_SECONDS):
                    while (found := check()) is None:
                        await changes.get()
            except TimeoutError:
                shown = screen()
                detail = (
                    f"; the screen shows: {text_of(shown)!r} {buttons_of(shown)}" if shown else ""
                )
                raise AssertionError(f"gave up waiting for {what}{detail}") from None
        return found

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        await self.bot_idle()
        async with self.http.post(f"{self.sandbox.url}{path}", json=body) as response:
            answer = await response.json()
            assert response.status == 200, answer
            return answer

    async def get(self, path: str) -> Any:
        async with self.http.get(f"{self.sandbox.url}{path}") as response:
            answer = await response.json()
            assert response.status == 200, answer
            return answer

    def teacher(self, case: str) -> TeacherDriver:
        return TeacherDriver(self, next(t for t in self.sandbox.cast.teachers if t.case == case))

    def operator(self, index: int = 0) -> OperatorDriver:
        return OperatorDriver(self, self.sandbox.cast.operators[index])


class TeacherDriver:
    """One demo teacher: the MESH page, the Telegram chat and the phone."""

    def __init__(self, live: Live, teacher: Teacher):
        self.live = live
        self.teacher = teacher

    @property
    def chat(self):
        return self.live.world.chats.get(self.teacher.user_id)

    def bot_messages(self) -> list[dict[str, Any]]:
        if self.chat is None:
            return []
        messages = sorted(self.chat.messages.values(), key=lambda m: m["message_id"])
        return [m for m in messages if m["from"]["is_bot"]]

    def screen(self) -> dict[str, Any] | None:
        """The newest bot message: what the teacher is looking at."""
        messages = self.bot_messages()
        return messages[-1] if messages else None

    async def sees(self, fragment: str) -> dict[str, Any]:
        def check():
            screen = self.screen()
            return screen if screen and fragment in text_of(screen) else None

        return await self.live.wait(check, f"the bot to show «{fragment}»", self.screen)

    def _button(self, label: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for message in reversed(self.bot_messages()):
            for button in buttons_of(message):
                if label in button["text"] and "callback_data" in button:
                    return message, button
        return None

    async def sees_button(self, label: str) -> None:
        await self.live.wait(lambda: self._button(label), f"a button «{label}»", self.screen)

    async def press(self, label: str) -> None:
        message, button = await self.live.wait(
            lambda: self._button(label), f"button «{label}»", self.screen
        )
        pressed = await self.live.post(
            "/api/callback",
            {
                "user_id": self.teacher.user_id,
                "chat_id": self.teacher.user_id,
                "message_id": message["message_id"],
                "data": button["callback_data"],
            },
        )
        # Like a Telegram client's spinner: the bot must answer every callback query.
        queries = self.live.world.callback_queries
        await self.live.wait(
            lambda: True if pressed["query_id"] not in queries else None,
            f"the bot to answer the press on «{label}»",
            self.screen,
        )

    async def opens_from_journal(self) -> None:
        """MESH page: messenger icon → «Перейти к подключению»."""
        await self.live.post(f"/api/teachers/{self.teacher.mesh_account_id}/connect", {})

    async def says(self, text: str) -> dict[str, Any]:
        return await self.live.post(
            "/api/messages", {"user_id": self.teacher.user_id, "text": text}
        )

    async def shares_contact(self) -> None:
        def contact_button():
            keyboard = self.chat.reply_keyboard if self.chat else None
            rows = (keyboard or {}).get("keyboard", [])
            found = any(isinstance(b, dict) and b.get("request_contact") for r in rows for b in r)
            return True if found else None

        await self.live.wait(contact_button, "the «share my number» reply button")
        await self.live.post("/api/contact", {"user_id": self.teacher.user_id})

    async def reads_code(self, channel: str) -> str:
        """The newest code of `channel` (call, sms, email) on the phone pane."""
        phone = await self.live.get(f"/api/phone/{self.teacher.user_id}")
        return next(item["code"] for item in phone["messages"] if item["channel"] == channel)

    def message_is_gone(self, message_id: int) -> bool:
        return message_id not in self.chat.messages


class OperatorDriver:
    """An operator in the helpdesk forum supergroup."""

    def __init__(self, live: Live, user: dict[str, Any]):
        self.live = live
        self.user = user

    @property
    def helpdesk(self):
        return self.live.world.chats[self.live.sandbox.cast.helpdesk_chat_id]

    def messages_in(self, thread_id: int) -> list[dict[str, Any]]:
        return [
            m
            for m in sorted(self.helpdesk.messages.values(), key=lambda m: m["message_id"])
            if m.get("message_thread_id") == thread_id
        ]

    async def sees_new_topic(self) -> int:
        topic = await self.live.wait(
            lambda: next(iter(self.helpdesk.topics.values()), None), "a helpdesk topic"
        )
        return topic.message_thread_id

    async def sees_in_topic(self, thread_id: int, fragment: str) -> dict[str, Any]:
        return await self.live.wait(
            lambda: next((m for m in self.messages_in(thread_id) if fragment in text_of(m)), None),
            f"«{fragment}» in topic {thread_id}",
        )

    async def writes(self, thread_id: int, text: str) -> dict[str, Any]:
        return await self.live.post(
            "/api/messages",
            {
                "user_id": self.user["id"],
                "chat_id": self.live.sandbox.cast.helpdesk_chat_id,
                "message_thread_id": thread_id,
                "text": text,
            },
        )


@contextlib.asynccontextmanager
async def live_sandbox() -> AsyncIterator[Live]:
    """The sandbox on a free port with the real bot (bot.app) polling it over HTTP."""
    from bot.app import build_runtime, set_bot_commands
    from bot.polling import UpdatePoller

    async with (
        start_sandbox(Settings(_env_file=None, sandbox_port=0)) as sandbox,
        aiohttp.ClientSession() as http,
        build_runtime(sandbox.bot_settings, create_tables=True) as runtime,
    ):
        # What bot.app.run_polling does, minus OS signal handlers, so the test can stop it.
        await set_bot_commands(runtime.bot, helpdesk_chat_id=sandbox.bot_settings.helpdesk_chat_id)
        tracker = UpdateTracker()
        runtime.dp.update.outer_middleware(tracker)
        poller = UpdatePoller(
            runtime.dp,
            runtime.bot,
            commit=runtime.delivery.commit,
            allowed_updates=runtime.dp.resolve_used_update_types(),
        )
        polling = asyncio.create_task(poller.run())
        try:
            await asyncio.wait_for(sandbox.world.updates.poller_waiting(), WAIT_SECONDS)
            yield Live(sandbox, http, tracker)
        finally:
            poller.stop()
            await polling
