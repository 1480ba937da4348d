"""Synchronous filters run on the event loop: no worker thread per filter, same decisions."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from aiogram import F, Router
from aiogram.types import Chat, Message, User

from bot.inline_filters import run_filters_inline


def _message(text: str, chat_type: str = "private") -> Message:
    return Message(
        message_id=1,
        date=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
        chat=Chat(id=5, type=chat_type),
        from_user=User(id=5, is_bot=False, first_name="Мария"),
        text=text,
    )


async def test_sync_filters_decide_as_before_without_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parent, child = Router(), Router()
    parent.include_router(child)
    parent.message.filter(F.chat.type == "private")  # router-wide
    child.message.register(lambda: None, F.text == "да", lambda message: "!" not in message.text)

    assert run_filters_inline(parent) == 3
    assert run_filters_inline(parent) == 0  # idempotent: already coroutines

    async def no_thread(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a filter went to a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    handler = child.message.handlers[0]
    assert (await handler.check(_message("да")))[0] is True
    assert (await handler.check(_message("нет")))[0] is False
    assert (await parent.message._handler.check(_message("да", "group")))[0] is False
    assert (await parent.message._handler.check(_message("да")))[0] is True
