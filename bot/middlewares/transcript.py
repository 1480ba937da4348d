"""The teacher's recent conversation with the bot, recorded for the helpdesk context card.

Two halves: a dispatcher middleware for what the teacher sends, a session middleware for what the
bot says. Recording costs the update no database round trip: the store queues the line and a
background writer commits the lines of many updates together (services/storage/write_behind.py).
Secrets never reach the store: a message typed in one of the secret steps (given by the caller:
the step table's SECRET_STEPS, bot/dialogs/steps.py) is replaced as a whole before storing, and
everything else goes through `mask_secrets` (codes, phone numbers, password-like words).
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable, Container
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.fsm.state import State
from aiogram.methods import (
    EditMessageCaption,
    EditMessageText,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Message, TelegramObject

from services.helpdesk import TranscriptStore, mask_bot_text, mask_message, mask_secrets

logger = logging.getLogger(__name__)


def _current_state(data: dict[str, Any]) -> State | None:
    context = data.get("aiogd_context")  # aiogram-dialog's current dialog context
    return getattr(context, "state", None)


def describe_incoming(message: Message, *, secret_step: bool) -> str | None:
    """What the transcript keeps of a teacher's message (masked), or None for nothing."""
    if message.text is not None:
        return mask_message(message.text, secret_step=secret_step)
    if message.contact is not None:
        return "[contact]"
    if message.photo:
        caption = mask_message(message.caption, secret_step=secret_step) if message.caption else ""
        return f"[photo] {caption}".strip()
    if message.document:
        return f"[document {mask_secrets(message.document.file_name or '')}]".replace(" ]", "]")
    if message.sticker is not None:
        return "[sticker]"
    return None


class TranscriptMiddleware(BaseMiddleware):
    """Inner message middleware: records private messages before the handler sees them.

    `secret_steps` are the dialog states whose input is a password or a code.
    """

    def __init__(self, store: TranscriptStore, *, secret_steps: Container[State]) -> None:
        self.store = store
        self.secret_steps = secret_steps

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Message) and event.chat.type == "private" and event.from_user:
            secret = _current_state(data) in self.secret_steps
            line = describe_incoming(event, secret_step=secret)
            if line:
                try:
                    await self.store.record(event.from_user.id, "teacher", line)
                except Exception:  # the transcript must never break the conversation
                    logger.exception("transcript: teacher line not recorded")
        return await handler(event, data)


class TranscriptRequestMiddleware(BaseRequestMiddleware):
    """Session middleware: records the texts the bot sends or edits into private chats."""

    def __init__(self, store: TranscriptStore) -> None:
        self.store = store

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        result = await make_request(bot, method)
        text: str | None = None
        sent: TelegramMethod[Any] = method  # widened: isinstance narrows it to one method
        if isinstance(sent, SendMessage | EditMessageText):
            text = sent.text
        elif isinstance(sent, SendPhoto | EditMessageCaption):
            text = sent.caption
        chat_id = getattr(method, "chat_id", None)
        if text and isinstance(chat_id, int) and chat_id > 0:
            try:
                await self.store.record(chat_id, "bot", mask_bot_text(_strip_html(text)))
            except Exception:
                logger.exception("transcript: bot line not recorded")
        return result


_HTML_TAG = re.compile(r"<[^>]+>")


def _strip_html(text: str) -> str:
    return html.unescape(_HTML_TAG.sub("", text))
