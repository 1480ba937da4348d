"""The in-memory Telegram world: users, chats, messages, forum topics, callback queries.

Bot-side methods live in `methods.py`; this module holds the state and the actions people take
(send a text, share a contact, press a button). Messages are kept as Bot API JSON objects, so what
the bot receives and what the browser renders are the very same dictionaries.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.sandbox.botapi.commands import CommandMenus
from services.sandbox.botapi.entities import format_text
from services.sandbox.botapi.errors import bad_request
from services.sandbox.botapi.events import EventBus
from services.sandbox.botapi.faults import FaultInjector
from services.sandbox.botapi.files import FileStore, StoredFile
from services.sandbox.botapi.markup import find_callback_button
from services.sandbox.botapi.updates import UpdateQueue

TOKEN_RE = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,100}$")
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
CONTENT_KEYS = (
    "text", "entities", "photo", "document", "caption", "caption_entities", "contact",
    "sticker", "voice", "audio", "video", "animation", "location",
)  # fmt: skip
SERVICE_KEYS = (
    "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
    "pinned_message", "new_chat_members",
)  # fmt: skip


@dataclass
class Topic:
    """A forum topic; its id is the id of the service message that created it."""

    message_thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    is_closed: bool = False

    def as_api(self) -> dict[str, Any]:
        topic: dict[str, Any] = {
            "message_thread_id": self.message_thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            topic["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return topic


@dataclass
class Chat:
    id: int
    type: str  # "private" | "supergroup"
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    members: dict[int, str] = field(default_factory=dict)  # user id → creator|administrator|member
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None
    chat_instance: str = field(default_factory=lambda: str(secrets.randbits(63)))
    pinned_message_id: int | None = None
    menu_button: dict[str, Any] = field(default_factory=lambda: {"type": "commands"})
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def next_message_id(self) -> int:
        return next(self._ids)

    def as_api(self) -> dict[str, Any]:
        """The short `Chat` object embedded in messages."""
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value:
                chat[key] = value
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    def as_full_info(self) -> dict[str, Any]:
        """`ChatFullInfo` for getChat."""
        info = self.as_api()
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if self.pinned_message_id and self.pinned_message_id in self.messages:
            info["pinned_message"] = self.messages[self.pinned_message_id]
        return info


def user_object(user: dict[str, Any]) -> dict[str, Any]:
    """The public `User` object (without the sandbox's own fields such as the phone)."""
    return {k: v for k, v in user.items() if not k.startswith("_")}


_ADMIN_RIGHTS = (
    "can_be_edited", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
    "can_post_stories", "can_edit_stories", "can_delete_stories", "can_pin_messages",
    "can_manage_topics", "can_send_welcome_messages",
)  # fmt: skip


def member_object(user: dict[str, Any], status: str) -> dict[str, Any]:
    """A ChatMember of the Bot API for `user` with `status` (creator, administrator, member…)."""
    member: dict[str, Any] = {"status": status, "user": user_object(user)}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update({right: True for right in _ADMIN_RIGHTS}, is_anonymous=False)
        member["can_be_edited"] = False
    return member


class TelegramWorld:
    """Everything one sandbox Telegram knows: one bot, its users, chats and pending updates."""

    def __init__(
        self,
        token: str,
        *,
        bot_first_name: str = "Сферум · помощник",
        bot_username: str = "sferum_link_bot",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        match = TOKEN_RE.match(token)
        if match is None:
            raise ValueError("a bot token looks like 123456:ABC-def")
        self.token = token
        self.clock = clock
        self.bot: dict[str, Any] = {
            "id": int(match.group(1)),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.users: dict[int, dict[str, Any]] = {self.bot["id"]: self.bot}
        self.chats: dict[int, Chat] = {}
        self.updates = UpdateQueue()
        self.faults = FaultInjector(sleep=sleep)
        self.files = FileStore()
        self.events = EventBus()
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.answered_queries: set[str] = set()
        self.commands = CommandMenus()
        self.webhook: dict[str, Any] = {"url": ""}
        # A load balancer behind the webhook URL, and every POST made (see webhook.py).
        self.webhook_targets: list[str] = []
        self.webhook_attempts: list[Any] = []
        self.webhook_in_flight: dict[int, str] = {}  # update id → target being posted to
        self._query_ids = itertools.count(secrets.randbelow(10**12) * 1000)

    # ---- people and chats -------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        *,
        username: str | None = None,
        language_code: str | None = "ru",
        phone: str | None = None,
    ) -> dict[str, Any]:
        """Register a person who can write to the bot; `phone` is what a contact share sends."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        if phone:
            user["_phone"] = phone
        self.users[user_id] = user
        return user

    def add_forum_supergroup(self, chat_id: int, title: str, members: dict[int, str]) -> Chat:
        """A supergroup with topics enabled; the bot is an administrator there."""
        chat = Chat(id=chat_id, type="supergroup", title=title, is_forum=True)
        chat.members = {self.bot["id"]: "administrator", **members}
        self.chats[chat_id] = chat
        self.events.publish({"type": "chat", "chat": chat.as_api()})
        return chat

    def private_chat(self, user_id: int) -> Chat:
        """The user's chat with the bot, opened when the user first writes."""
        chat = self.chats.get(user_id)
        if chat is None:
            user = self.users[user_id]
            chat = Chat(
                id=user_id,
                type="private",
                first_name=user["first_name"],
                last_name=user.get("last_name"),
                username=user.get("username"),
            )
            chat.members = {user_id: "member", self.bot["id"]: "member"}
            self.chats[user_id] = chat
            self.events.publish({"type": "chat", "chat": chat.as_api()})
        return chat

    def user(self, user_id: int) -> dict[str, Any]:
        if user_id not in self.users or user_id == self.bot["id"]:
            raise bad_request("user not found")
        return self.users[user_id]

    # ---- messages ---------------------------------------------------------------------------

    def store_message(
        self,
        chat: Chat,
        sender: dict[str, Any],
        content: dict[str, Any],
        *,
        thread_id: int | None = None,
        reply_to: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add a message to `chat`, tell the UI, and queue an update unless the bot sent it."""
        message_id = chat.next_message_id()
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": user_object(sender),
            "chat": chat.as_api(),
            "date": self.now(),
        }
        if chat.is_forum and thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
            if reply_to is None and thread_id in chat.messages:
                # In a topic Telegram points plain messages at the topic's creation message.
                reply_to = chat.messages[thread_id]
        if reply_to is not None:
            message["reply_to_message"] = {
                k: v for k, v in reply_to.items() if k != "reply_to_message"
            }
        message.update(extra or {})
        message.update(content)
        chat.messages[message_id] = message
        self.events.publish({"type": "message", "chat_id": chat.id, "message": message})
        if sender["id"] != self.bot["id"]:
            self.updates.push("message", message)
        return message

    def replace_message(self, chat: Chat, message: dict[str, Any]) -> None:
        chat.messages[message["message_id"]] = message
        self.events.publish({"type": "edit", "chat_id": chat.id, "message": message})

    def remove_message(self, chat: Chat, message_id: int) -> None:
        chat.messages.pop(message_id, None)
        self.events.publish({"type": "delete", "chat_id": chat.id, "message_id": message_id})

    def set_reply_keyboard(self, chat: Chat, keyboard: dict[str, Any] | None) -> None:
        chat.reply_keyboard = keyboard
        self.events.publish({"type": "keyboard", "chat_id": chat.id, "keyboard": keyboard})

    # ---- what people do ---------------------------------------------------------------------

    def _chat_for_user(self, user_id: int, chat_id: int | None) -> Chat:
        user = self.user(user_id)
        if chat_id is None or chat_id == user_id:
            return self.private_chat(user["id"])
        chat = self.chats.get(chat_id)
        if chat is None or chat.members.get(user_id) is None:
            raise bad_request("chat not found")
        return chat

    def _thread_for_user(self, chat: Chat, thread_id: int | None) -> int | None:
        if thread_id is None or not chat.is_forum:
            return None
        if thread_id not in chat.topics:
            raise bad_request("message thread not found")
        return thread_id

    def _after_reply_button(self, chat: Chat, used_keyboard: bool) -> None:
        keyboard = chat.reply_keyboard
        if used_keyboard and keyboard and keyboard.get("one_time_keyboard"):
            self.set_reply_keyboard(chat, None)

    def _reply_keyboard_texts(self, chat: Chat) -> set[str]:
        rows = (chat.reply_keyboard or {}).get("keyboard", [])
        return {b if isinstance(b, str) else b.get("text", "") for row in rows for b in row}

    def user_sends_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A person types `text` into a chat (their private chat with the bot by default)."""
        chat = self._chat_for_user(user_id, chat_id)
        if len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        plain, entities = format_text(text, None)
        if not plain:
            raise bad_request("message text is empty")
        content: dict[str, Any] = {"text": plain}
        if entities:
            content["entities"] = entities
        reply_to = chat.messages.get(reply_to_message_id) if reply_to_message_id else None
        message = self.store_message(
            chat,
            self.users[user_id],
            content,
            thread_id=self._thread_for_user(chat, thread_id),
            reply_to=reply_to,
        )
        self._after_reply_button(chat, plain in self._reply_keyboard_texts(chat))
        return message

    def user_edits_text(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """A person edits a text message of theirs: the chat shows it, the bot gets an
        edited_message update (as Telegram sends it, with edit_date)."""
        chat = self._chat_for_user(user_id, chat_id)
        message = chat.messages.get(message_id)
        if message is None or message.get("from", {}).get("id") != user_id:
            raise bad_request("message can't be edited")
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        if len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        plain, entities = format_text(text, None)
        if not plain:
            raise bad_request("message text is empty")
        if plain == message["text"]:
            raise bad_request("message is not modified")
        edited = {k: v for k, v in message.items() if k != "entities"}
        edited.update(text=plain, edit_date=self.now())
        if entities:
            edited["entities"] = entities
        self.replace_message(chat, edited)
        self.updates.push("edited_message", edited)
        return edited

    def change_member_status(self, chat_id: int, user_id: int, status: str) -> dict[str, Any]:
        """An administrator promotes, demotes or removes `user_id` ("administrator", "member",
        "left"): the bot, an administrator there, gets a chat_member update if it asked for
        them in allowed_updates (Telegram's rule)."""
        chat = self.chats.get(chat_id)
        if chat is None or chat.type == "private":
            raise bad_request("chat not found")
        if status not in {"administrator", "member", "left"}:
            raise bad_request("unsupported status")
        user = self.user(user_id)
        old = chat.members.get(user_id, "left")
        if status == "left":
            chat.members.pop(user_id, None)
        else:
            chat.members[user_id] = status
        changed = {
            "chat": chat.as_api(),
            "from": user_object(self.bot),
            "date": self.now(),
            "old_chat_member": member_object(user, old),
            "new_chat_member": member_object(user, status),
        }
        self.updates.push("chat_member", changed)
        return changed

    def user_shares_contact(self, user_id: int) -> dict[str, Any]:
        """The «share my phone» reply button: a contact with the user's own number."""
        user = self.user(user_id)
        phone = user.get("_phone")
        if not phone:
            raise bad_request("this user has no phone number")
        chat = self.private_chat(user_id)
        contact: dict[str, Any] = {
            # Telegram clients send the number without "+", which bots must normalise.
            "phone_number": phone.lstrip("+"),
            "first_name": user["first_name"],
            "user_id": user_id,
        }
        if user.get("last_name"):
            contact["last_name"] = user["last_name"]
        message = self.store_message(chat, user, {"contact": contact})
        self._after_reply_button(chat, True)
        return message

    def user_sends_file(
        self,
        user_id: int,
        *,
        kind: str,
        data: bytes,
        filename: str,
        mime_type: str,
        caption: str | None = None,
        chat_id: int | None = None,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        """A photo (kind="photo") or a file (kind="document") sent by a person."""
        if kind not in {"photo", "document"}:
            raise bad_request("kind must be photo or document")
        chat = self._chat_for_user(user_id, chat_id)
        stored = self.files.put(data, filename=filename, mime_type=mime_type, kind=kind)
        content = media_content(kind, stored)
        if caption:
            text, entities = format_text(caption, None)
            if len(text) > MAX_CAPTION_LENGTH:
                raise bad_request("message caption is too long")
            content["caption"] = text
            if entities:
                content["caption_entities"] = entities
        return self.store_message(
            chat, self.users[user_id], content, thread_id=self._thread_for_user(chat, thread_id)
        )

    def user_presses_button(
        self, user_id: int, chat_id: int, message_id: int, data: str
    ) -> dict[str, Any]:
        """A tap on an inline button: a callback query the bot must answer."""
        chat = self._chat_for_user(user_id, chat_id)
        message = chat.messages.get(message_id)
        if message is None:
            raise bad_request("message not found")
        if find_callback_button(message, data) is None:
            raise bad_request("the message has no button with this callback data")
        query_id = str(next(self._query_ids))
        query = {
            "id": query_id,
            "from": user_object(self.users[user_id]),
            "message": message,
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self.callback_queries[query_id] = query
        self.updates.push("callback_query", query)
        return query

    def snapshot(self) -> dict[str, Any]:
        """Everything the browser needs to draw the world from scratch."""
        return copy.deepcopy(
            {
                "bot": self.bot,
                "chats": [
                    {
                        "chat": chat.as_api(),
                        "messages": list(chat.messages.values()),
                        "reply_keyboard": chat.reply_keyboard,
                        "topics": [
                            {**t.as_api(), "is_closed": t.is_closed} for t in chat.topics.values()
                        ],
                        "members": [
                            {"user": user_object(self.users[uid]), "status": status}
                            for uid, status in chat.members.items()
                            if uid in self.users
                        ],
                    }
                    for chat in self.chats.values()
                ],
            }
        )


def media_content(kind: str, stored: StoredFile) -> dict[str, Any]:
    """The message fields for a photo or a document."""
    if kind == "photo":
        return {"photo": stored.as_photo_sizes()}
    return {"document": stored.as_document()}
