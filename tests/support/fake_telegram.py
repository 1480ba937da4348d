"""An in-memory Telegram for driving the real Dispatcher in tests.

`FakeTelegram` is an aiogram session: the bot's Bot API calls are answered the way Telegram answers
them (message ids per chat, edits returning the edited message, "message is not modified", deleted
messages gone, forum topics) and every call is recorded. `TeacherChat` plays a person: it sends
messages, shares a contact, presses inline buttons of the messages the bot really sent, and reads
what the chat shows now.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.methods import (
    AnswerCallbackQuery,
    CloseForumTopic,
    CopyMessage,
    CreateForumTopic,
    DeleteForumTopic,
    DeleteMessage,
    EditForumTopic,
    EditMessageCaption,
    EditMessageReplyMarkup,
    EditMessageText,
    ForwardMessage,
    GetMe,
    ReopenForumTopic,
    SendChatAction,
    SendDocument,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    Contact,
    Document,
    ForumTopic,
    InlineKeyboardMarkup,
    Message,
    MessageId,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    User,
)

BOT_ID = 4242
BOT_USERNAME = "sferum_link_test_bot"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class ChatLog:
    """What one chat looks like: its messages as they are now, and its reply keyboard."""

    chat: Chat
    messages: dict[int, Message] = field(default_factory=dict)
    reply_keyboard: ReplyKeyboardMarkup | None = None
    next_message_id: int = 1


class FakeTelegram(BaseSession):
    """Bot API answers from an in-memory world; `calls` records every request in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.chats: dict[int, ChatLog] = {}
        self.callback_answers: dict[str, AnswerCallbackQuery] = {}
        self.topics: dict[tuple[int, int], ForumTopic] = {}
        self.closed_topics: set[tuple[int, int]] = set()
        self.blocked_by: set[int] = set()  # private chats whose user blocked the bot
        self._failures: dict[str, list[Exception]] = {}
        self._topic_ids = itertools.count(1001)
        self._file_ids = itertools.count(1)
        self.files: dict[str, bytes] = {}  # file id → the bytes uploaded under it
        self.uploads: list[str] = []  # file ids of uploads, in order
        self._bot_user = User(id=BOT_ID, is_bot=True, first_name="Сферум", username=BOT_USERNAME)

    # --- what tests configure -------------------------------------------------------------
    def fail_next(self, method_name: str, error: Exception) -> None:
        """Make the next call of `method_name` (e.g. "SendMessage") raise `error`."""
        self._failures.setdefault(method_name, []).append(error)

    def chat(self, chat_id: int, **chat_fields: Any) -> ChatLog:
        if chat_id not in self.chats:
            fields = {"type": "private" if chat_id > 0 else "supergroup", **chat_fields}
            self.chats[chat_id] = ChatLog(chat=Chat(id=chat_id, **fields))
        return self.chats[chat_id]

    def add_incoming(self, message: Message) -> None:
        """Register a message a person sent, so that the bot can edit/copy/reply to it."""
        self.chat(message.chat.id).messages[message.message_id] = message

    def new_message_id(self, chat_id: int) -> int:
        log = self.chat(chat_id)
        message_id = log.next_message_id
        log.next_message_id += 1
        return message_id

    def calls_of(self, method_type: type[TelegramMethod[Any]]) -> list[Any]:
        return [call for call in self.calls if isinstance(call, method_type)]

    # --- BaseSession ----------------------------------------------------------------------
    async def close(self) -> None:
        return None

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield b""

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> Any:
        self.calls.append(method)
        name = type(method).__name__
        if self._failures.get(name):
            raise self._failures[name].pop(0)
        handler: Callable[[TelegramMethod[Any]], Any] | None = getattr(self, f"_{name}", None)
        if handler is None:
            return True  # setMyCommands-like calls with nothing worth modelling
        return handler(method)

    # --- the methods ----------------------------------------------------------------------
    def _GetMe(self, method: GetMe) -> User:
        return self._bot_user

    def _SetMyCommands(self, method: SetMyCommands) -> bool:
        return True

    def _SendChatAction(self, method: SendChatAction) -> bool:
        return True

    def _check_reachable(self, method: TelegramMethod[Any], chat_id: int, thread_id: int | None):
        if chat_id in self.blocked_by:
            raise TelegramForbiddenError(method, "Forbidden: bot was blocked by the user")
        if thread_id is not None and (chat_id, thread_id) not in self.topics:
            raise TelegramBadRequest(method, "Bad Request: message thread not found")

    def _store(self, chat_id: int, markup: Any, **fields: Any) -> Message:
        log = self.chat(int(chat_id))
        if isinstance(markup, ReplyKeyboardMarkup):
            log.reply_keyboard = markup
        elif isinstance(markup, ReplyKeyboardRemove):
            log.reply_keyboard = None
        message = Message(
            message_id=self.new_message_id(log.chat.id),
            date=_now(),
            chat=log.chat,
            from_user=self._bot_user,
            reply_markup=markup if isinstance(markup, InlineKeyboardMarkup) else None,
            **fields,
        )
        log.messages[message.message_id] = message
        return message

    def _SendMessage(self, method: SendMessage) -> Message:
        chat_id = int(method.chat_id)
        self._check_reachable(method, chat_id, method.message_thread_id)
        return self._store(
            chat_id,
            method.reply_markup,
            text=method.text,
            message_thread_id=method.message_thread_id,
            is_topic_message=method.message_thread_id is not None or None,
        )

    def _SendPhoto(self, method: SendPhoto) -> Message:
        """An upload gets a new file id (as Telegram's are, per bot); a file id must be known."""
        chat_id = int(method.chat_id)
        self._check_reachable(method, chat_id, method.message_thread_id)
        if isinstance(method.photo, str):
            if method.photo not in self.files:
                raise TelegramBadRequest(
                    method, "Bad Request: wrong file identifier/HTTP URL specified"
                )
            file_id = method.photo
        else:
            file_id = f"photo-{next(self._file_ids)}"
            self.files[file_id] = getattr(method.photo, "data", b"")
            self.uploads.append(file_id)
        photo = PhotoSize(file_id=file_id, file_unique_id=file_id, width=1080, height=690)
        return self._store(
            chat_id,
            method.reply_markup,
            photo=[photo],
            caption=method.caption,
            message_thread_id=method.message_thread_id,
        )

    def _SendDocument(self, method: SendDocument) -> Message:
        chat_id = int(method.chat_id)
        self._check_reachable(method, chat_id, method.message_thread_id)
        name = getattr(method.document, "filename", None) or "file"
        document = Document(file_id="doc-1", file_unique_id="d1", file_name=name)
        return self._store(
            chat_id,
            method.reply_markup,
            document=document,
            caption=method.caption,
            message_thread_id=method.message_thread_id,
        )

    def _find(self, method: TelegramMethod[Any], chat_id: Any, message_id: int | None) -> Message:
        log = self.chats.get(int(chat_id))
        if log is None or message_id not in log.messages:
            raise TelegramBadRequest(method, "Bad Request: message to edit not found")
        return log.messages[message_id]

    def _replace(self, message: Message, **changes: Any) -> Message:
        edited = message.model_copy(update={**changes, "edit_date": int(_now().timestamp())})
        self.chats[message.chat.id].messages[message.message_id] = edited
        return edited

    def _EditMessageText(self, method: EditMessageText) -> Message:
        message = self._find(method, method.chat_id, method.message_id)
        markup = method.reply_markup
        if message.text == method.text and message.reply_markup == markup:
            raise TelegramBadRequest(
                method,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        if message.text is None:
            raise TelegramBadRequest(method, "Bad Request: there is no text in the message to edit")
        return self._replace(message, text=method.text, reply_markup=markup)

    def _EditMessageCaption(self, method: EditMessageCaption) -> Message:
        message = self._find(method, method.chat_id, method.message_id)
        return self._replace(message, caption=method.caption, reply_markup=method.reply_markup)

    def _EditMessageReplyMarkup(self, method: EditMessageReplyMarkup) -> Message:
        message = self._find(method, method.chat_id, method.message_id)
        if message.reply_markup == method.reply_markup:
            raise TelegramBadRequest(method, "Bad Request: message is not modified")
        return self._replace(message, reply_markup=method.reply_markup)

    def _DeleteMessage(self, method: DeleteMessage) -> bool:
        log = self.chats.get(int(method.chat_id))
        if log is None or log.messages.pop(method.message_id, None) is None:
            raise TelegramBadRequest(method, "Bad Request: message to delete not found")
        return True

    def _AnswerCallbackQuery(self, method: AnswerCallbackQuery) -> bool:
        self.callback_answers[method.callback_query_id] = method
        return True

    def _CopyMessage(self, method: CopyMessage) -> MessageId:
        source = self.chats.get(int(method.from_chat_id))
        original = source.messages.get(method.message_id) if source else None
        if original is None:
            raise TelegramBadRequest(method, "Bad Request: message to copy not found")
        chat_id = int(method.chat_id)
        self._check_reachable(method, chat_id, method.message_thread_id)
        copied = self._store(
            chat_id,
            method.reply_markup,
            text=original.text,
            photo=original.photo,
            document=original.document,
            caption=method.caption if method.caption is not None else original.caption,
            message_thread_id=method.message_thread_id,
        )
        return MessageId(message_id=copied.message_id)

    def _ForwardMessage(self, method: ForwardMessage) -> Message:
        copied = self._CopyMessage(
            CopyMessage(
                chat_id=method.chat_id,
                from_chat_id=method.from_chat_id,
                message_id=method.message_id,
                message_thread_id=method.message_thread_id,
            )
        )
        return self.chats[int(method.chat_id)].messages[copied.message_id]

    def _CreateForumTopic(self, method: CreateForumTopic) -> ForumTopic:
        chat_id = int(method.chat_id)
        topic = ForumTopic(
            message_thread_id=next(self._topic_ids), name=method.name, icon_color=7322096
        )
        self.topics[(chat_id, topic.message_thread_id)] = topic
        return topic

    def _EditForumTopic(self, method: EditForumTopic) -> bool:
        key = (int(method.chat_id), method.message_thread_id)
        if key not in self.topics:
            raise TelegramBadRequest(method, "Bad Request: TOPIC_ID_INVALID")
        if method.name:
            self.topics[key] = self.topics[key].model_copy(update={"name": method.name})
        return True

    def _CloseForumTopic(self, method: CloseForumTopic) -> bool:
        key = (int(method.chat_id), method.message_thread_id)
        if key not in self.topics:
            raise TelegramBadRequest(method, "Bad Request: TOPIC_ID_INVALID")
        self.closed_topics.add(key)
        return True

    def _ReopenForumTopic(self, method: ReopenForumTopic) -> bool:
        self.closed_topics.discard((int(method.chat_id), method.message_thread_id))
        return True

    def _DeleteForumTopic(self, method: DeleteForumTopic) -> bool:
        self.topics.pop((int(method.chat_id), method.message_thread_id), None)
        return True

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """An operator deleted the topic in the Telegram app."""
        self.topics.pop((chat_id, thread_id), None)


class Person:
    """A Telegram user who sends updates to the bot through the Dispatcher."""

    _update_ids = itertools.count(1)

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        telegram: FakeTelegram,
        *,
        user_id: int,
        first_name: str = "Мария",
        language_code: str | None = "ru",
        chat: Chat | None = None,
    ) -> None:
        self.dp, self.bot, self.telegram = dp, bot, telegram
        self.user = User(
            id=user_id, is_bot=False, first_name=first_name, language_code=language_code
        )
        self.chat = chat or Chat(id=user_id, type="private", first_name=first_name)
        telegram.chat(self.chat.id, **self.chat.model_dump(exclude={"id"}, exclude_none=True))

    async def feed(self, **event: Any) -> Update:
        update = Update(update_id=next(self._update_ids), **event)
        await self.dp.feed_update(self.bot, update)
        return update

    def _message(self, **fields: Any) -> Message:
        message = Message(
            message_id=self.telegram.new_message_id(self.chat.id),
            date=_now(),
            chat=self.chat,
            from_user=self.user,
            **fields,
        )
        self.telegram.add_incoming(message)
        return message

    async def send(self, text: str, **fields: Any) -> Message:
        message = self._message(text=text, **fields)
        await self.feed(message=message)
        return message

    async def send_photo(self, caption: str | None = None, **fields: Any) -> Message:
        photo = PhotoSize(file_id="in-photo", file_unique_id="ip", width=800, height=600)
        message = self._message(photo=[photo], caption=caption, **fields)
        await self.feed(message=message)
        return message

    async def send_document(self, file_name: str = "screen.pdf", **fields: Any) -> Message:
        document = Document(file_id="in-doc", file_unique_id="id", file_name=file_name)
        message = self._message(document=document, **fields)
        await self.feed(message=message)
        return message

    async def send_sticker(self) -> Message:
        from aiogram.types import Sticker

        sticker = Sticker(
            file_id="st",
            file_unique_id="st",
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
        )
        message = self._message(sticker=sticker)
        await self.feed(message=message)
        return message

    async def share_contact(
        self, phone: str, *, own: bool = True, from_address_book: bool = False
    ) -> Message:
        """Her own contact («📱 Отправить мой номер»), someone else's (`own=False`), or a card
        from the address book of a person without Telegram (no user id at all)."""
        contact = Contact(
            phone_number=phone,
            first_name=self.user.first_name,
            user_id=None if from_address_book else self.user.id if own else self.user.id + 1,
        )
        message = self._message(contact=contact)
        await self.feed(message=message)
        return message

    # --- reading the chat --------------------------------------------------------------------
    @property
    def log(self) -> ChatLog:
        return self.telegram.chat(self.chat.id)

    def bot_messages(self) -> list[Message]:
        """The bot's messages still in the chat, oldest first, as they look now."""
        return [
            m
            for _, m in sorted(self.log.messages.items())
            if m.from_user is not None and m.from_user.id == BOT_ID
        ]

    @property
    def last(self) -> Message:
        messages = self.bot_messages()
        assert messages, "the bot has not said anything in this chat"
        return messages[-1]

    @property
    def last_text(self) -> str:
        return self.last.text or self.last.caption or ""

    def buttons(self, message: Message | None = None) -> list[str]:
        """Texts of the inline buttons of `message` (default: the last one that has any)."""
        message = message or self._last_with_keyboard()
        if message is None or message.reply_markup is None:
            return []
        return [button.text for row in message.reply_markup.inline_keyboard for button in row]

    def reply_buttons(self) -> list[str]:
        keyboard = self.log.reply_keyboard
        return [b.text for row in keyboard.keyboard for b in row] if keyboard else []

    def _last_with_keyboard(self) -> Message | None:
        for message in reversed(self.bot_messages()):
            if message.reply_markup and message.reply_markup.inline_keyboard:
                return message
        return None

    async def click(self, text: str, *, message: Message | None = None) -> AnswerCallbackQuery:
        """Press the inline button whose text contains `text` (exact match preferred)."""
        message = message or self._last_with_keyboard()
        assert message is not None, "no message with inline buttons in this chat"
        buttons = [b for row in message.reply_markup.inline_keyboard for b in row]
        chosen = next((b for b in buttons if b.text == text), None) or next(
            (b for b in buttons if text in b.text), None
        )
        assert chosen is not None, f"no button {text!r}; buttons are {[b.text for b in buttons]}"
        return await self.press(message, chosen.callback_data or "")

    async def press(self, message: Message, data: str) -> AnswerCallbackQuery:
        """Send a callback query with arbitrary data (stale or forged buttons included)."""
        query_id = f"cq-{next(self._update_ids)}"
        query = CallbackQuery(
            id=query_id,
            from_user=self.user,
            chat_instance=f"ci-{self.chat.id}",
            message=message,
            data=data,
        )
        await self.feed(callback_query=query)
        return self.telegram.callback_answers.get(query_id) or AnswerCallbackQuery(
            callback_query_id=query_id
        )
