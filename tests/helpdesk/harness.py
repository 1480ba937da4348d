"""The whole bot with the helpdesk: a forum supergroup in FakeTelegram, operators, a relay.

FakeTelegram (the lead's) does not model chat membership or chats without topics; `HelpdeskChat`
adds both to one FakeTelegram instance (getChatMember answers from `members`, createForumTopic
fails in a chat that is not a forum, the way Telegram does).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import CreateForumTopic, GetChatMember
from aiogram.types import (
    Chat,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    ForumTopic,
    Message,
    Update,
    User,
)

from bot.helpdesk.relay import HelpdeskRelay
from tests.helpdesk.conftest import ManualTime
from tests.support.bot_app import BotApp, make_bot_app
from tests.support.fake_telegram import FakeTelegram, Person

HELPDESK = -1009000
ADMIN = 555


def administrator(user: User) -> ChatMemberAdministrator:
    # Every permission the type requires, taken from the type (aiogram adds them as Telegram does).
    required = {
        name
        for name, field in ChatMemberAdministrator.model_fields.items()
        if field.is_required() and name.startswith("can_") and name != "can_be_edited"
    }
    rights = dict.fromkeys(required, False)
    return ChatMemberAdministrator(user=user, can_be_edited=False, is_anonymous=False, **rights)


class HelpdeskChat:
    """The helpdesk supergroup as FakeTelegram shows it."""

    def __init__(self, telegram: FakeTelegram, chat_id: int, *, forum: bool) -> None:
        self.telegram = telegram
        self.chat_id = chat_id
        self.members: set[int] = set()
        self.admins: set[int] = set()
        self.chat = Chat(id=chat_id, type="supergroup", title="Поддержка", is_forum=forum or None)
        telegram.chat(chat_id, title="Поддержка", is_forum=forum or None)
        create_topic = telegram._CreateForumTopic

        def _create_forum_topic(method: CreateForumTopic) -> ForumTopic:
            if int(method.chat_id) == chat_id and not forum:
                raise TelegramBadRequest(method, "Bad Request: the chat is not a forum")
            return create_topic(method)

        def _get_chat_member(method: GetChatMember) -> Any:
            user = User(id=method.user_id, is_bot=False, first_name="?")
            if int(method.chat_id) == chat_id and method.user_id in self.admins:
                return administrator(user)
            if int(method.chat_id) == chat_id and method.user_id in self.members:
                return ChatMemberMember(user=user)
            return ChatMemberLeft(user=user)

        telegram._CreateForumTopic = _create_forum_topic  # type: ignore[method-assign]
        telegram._GetChatMember = _get_chat_member  # type: ignore[attr-defined]

    def messages(self, thread_id: int | None = None) -> list[Message]:
        log = self.telegram.chat(self.chat_id)
        return [
            m
            for _, m in sorted(log.messages.items())
            if thread_id is None or m.message_thread_id == thread_id
        ]

    def texts(self, thread_id: int | None = None) -> list[str]:
        return [m.text or m.caption or "" for m in self.messages(thread_id)]


class Operator(Person):
    """An operator writing in the helpdesk chat (in a topic, or replying to a message)."""

    async def say(
        self, text: str, *, thread_id: int | None = None, reply_to: Message | None = None
    ):
        return await self.send(text, **self._where(thread_id, reply_to))

    async def say_photo(self, *, thread_id: int | None = None, caption: str | None = None):
        return await self.send_photo(caption=caption, **self._where(thread_id, None))

    @staticmethod
    def _where(thread_id: int | None, reply_to: Message | None) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if thread_id is not None:
            fields.update(message_thread_id=thread_id, is_topic_message=True)
        if reply_to is not None:
            fields["reply_to_message"] = reply_to
        return fields


class HelpdeskApp:
    """`BotApp` plus the helpdesk chat, its relay and people in it."""

    def __init__(self, app: BotApp, chat: HelpdeskChat, time: ManualTime) -> None:
        self.app, self.chat, self.time = app, chat, time

    @property
    def relay(self) -> HelpdeskRelay:
        """The running bot's relay (a new one after `restart`)."""
        return self.app.helpdesk

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def operator(
        self,
        user_id: int,
        first_name: str = "Ольга",
        *,
        member: bool = True,
        admin: bool = True,
    ) -> Operator:
        """Someone in the helpdesk group: an administrator (an operator) unless `admin=False`,
        a plain member, or (`member=False`) not even that."""
        if member:
            self.chat.members.add(user_id)
        if member and admin:
            self.chat.admins.add(user_id)
        person = Operator(
            self.app.dp,
            self.app.bot,
            self.app.telegram,
            user_id=user_id,
            first_name=first_name,
            chat=self.chat.chat,
        )
        self.app.people.append(person)
        return person

    async def change_status(self, user_id: int, status: str) -> None:
        """The group's status of `user_id` changes ("member": demoted, "left": removed), and
        Telegram tells the bot with a chat_member update, as it does when the bot is an admin."""
        was_admin = user_id in self.chat.admins
        self.chat.admins.discard(user_id)
        if status == "left":
            self.chat.members.discard(user_id)
        user = User(id=user_id, is_bot=False, first_name="?")
        old = administrator(user) if was_admin else ChatMemberMember(user=user)
        new = ChatMemberLeft(user=user) if status == "left" else ChatMemberMember(user=user)
        changed = ChatMemberUpdated(
            chat=self.chat.chat,
            from_user=User(id=ADMIN, is_bot=False, first_name="Админ"),
            date=datetime.now(UTC),
            old_chat_member=old,
            new_chat_member=new,
        )
        update = Update(update_id=next(Person._update_ids), chat_member=changed)
        await self.app.dp.feed_update(self.app.bot, update)

    async def restart(self) -> None:
        await self.app.restart()


@contextlib.asynccontextmanager
async def helpdesk_app(
    tmp_path: Path, backend_url: str, *, clock: Any, forum: bool = True, **overrides: Any
) -> AsyncIterator[HelpdeskApp]:
    """The bot wired with a helpdesk chat; time on Telegram is manual (no real waiting): the
    outbox's pacing and the retries after a 429."""
    settings = {"helpdesk_chat_id": HELPDESK, "admin_ids": [ADMIN], **overrides}
    time = ManualTime()
    async with make_bot_app(
        tmp_path, backend_url, clock=clock, telegram_time=time, **settings
    ) as app:
        chat = HelpdeskChat(app.telegram, HELPDESK, forum=forum)
        yield HelpdeskApp(app, chat, time)


async def walk_to_phone_step(teacher: Person, token: str) -> None:
    """/start with the e-journal's link → «Начнём» → pre-checks → «Нет» → the phone step."""
    await teacher.send("/start " + token)
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    assert "Номер телефона" in teacher.last_text


def only_topic(hd: HelpdeskApp) -> int:
    """The thread id of the one topic in the helpdesk chat (fails if there are more)."""
    threads = [thread for chat, thread in hd.telegram.topics if chat == HELPDESK]
    assert len(threads) == 1, f"expected one topic, got {hd.telegram.topics}"
    return threads[0]
