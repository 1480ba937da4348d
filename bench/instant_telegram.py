"""A Bot API session that answers at once, without network, and remembers each chat's last
inline keyboard so a simulated teacher can press its buttons."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import Chat, InlineKeyboardMarkup, Message, User

BOT_TOKEN = "4242:BENCH-TOKEN"
BOT_USER = User(id=4242, is_bot=True, first_name="Bench bot", username="bench_bot")


class InstantSession(BaseSession):
    """Answers sendMessage / editMessage* / answerCallbackQuery / deleteMessage instantly."""

    def __init__(self) -> None:
        super().__init__()
        self._message_ids = itertools.count(1_000)
        self.keyboards: dict[int, tuple[int, InlineKeyboardMarkup]] = {}
        self.calls = 0

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> Any:
        self.calls += 1
        if isinstance(method, SendMessage):
            return self._message(int(method.chat_id), next(self._message_ids), method)
        if isinstance(method, EditMessageText | EditMessageReplyMarkup):
            return self._message(int(method.chat_id), int(method.message_id), method)
        if isinstance(method, AnswerCallbackQuery | DeleteMessage):
            return True
        raise NotImplementedError(type(method).__name__)

    def _message(self, chat_id: int, message_id: int, method: Any) -> Message:
        markup = getattr(method, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            self.keyboards[chat_id] = (message_id, markup)
        else:
            self.keyboards.pop(chat_id, None)
        return Message(
            message_id=message_id,
            date=datetime.now(UTC),
            chat=Chat(id=chat_id, type="private"),
            from_user=BOT_USER,
            text=getattr(method, "text", None),
            reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
        )

    async def close(self) -> None:
        pass

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError
        yield b""
