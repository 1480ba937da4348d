"""Bot API methods the sandbox implements, with Telegram's semantics and refusals.

Each method takes the request's `Params` and returns the `result` of the `{"ok": true}` envelope.
`BotApiMethods.lookup` resolves a method name case-insensitively, as Telegram does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable
from typing import Any

from services.sandbox.botapi.commands import ScopeKey, language_key, scope_key
from services.sandbox.botapi.entities import format_text
from services.sandbox.botapi.errors import BotApiError, bad_request, forbidden
from services.sandbox.botapi.files import StoredFile
from services.sandbox.botapi.markup import check_reply_markup
from services.sandbox.botapi.params import Params, Upload
from services.sandbox.botapi.world import (
    CONTENT_KEYS,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
    SERVICE_KEYS,
    Chat,
    TelegramWorld,
    Topic,
    media_content,
    member_object,
    user_object,
)

Method = Callable[[Params], Awaitable[Any]]
TOPIC_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


class BotApiMethods:
    """The bot's side of the world: every method the bot may call."""

    def __init__(self, world: TelegramWorld):
        self.world = world
        self._methods: dict[str, Method] = {}
        for name in dir(self):
            if name.startswith("m_"):
                self._methods[name[2:].lower()] = getattr(self, name)

    def lookup(self, method: str) -> Method | None:
        return self._methods.get(method.lower())

    @property
    def names(self) -> list[str]:
        return sorted(self._methods)

    # ---- shared checks ----------------------------------------------------------------------

    def _chat(self, p: Params, name: str = "chat_id") -> Chat:
        ref = p.chat_id(name)
        world = self.world
        if isinstance(ref, str):
            chat = next((c for c in world.chats.values() if c.username == ref[1:]), None)
        else:
            chat = world.chats.get(ref)
            if chat is None and ref in world.users and ref != world.bot["id"]:
                raise forbidden("bot can't initiate conversation with a user")
        if chat is None or world.bot["id"] not in chat.members:
            raise bad_request("chat not found")
        return chat

    def _thread(self, chat: Chat, p: Params) -> int | None:
        thread_id = p.int("message_thread_id")
        if thread_id is None or not chat.is_forum:
            return None
        if thread_id not in chat.topics:
            raise bad_request("message thread not found")
        return thread_id

    def _reply_to(self, chat: Chat, p: Params) -> dict[str, Any] | None:
        params = p.json("reply_parameters") or {}
        if not isinstance(params, dict):
            raise bad_request("can't parse reply parameters JSON object")
        message_id = params.get("message_id") or p.int("reply_to_message_id")
        if not message_id:
            return None
        source = chat
        if params.get("chat_id") not in (None, chat.id):
            source = self._chat(Params({"chat_id": params["chat_id"]}))
        message = source.messages.get(int(message_id))
        if message is None and not (
            params.get("allow_sending_without_reply") or p.bool("allow_sending_without_reply")
        ):
            raise bad_request("message to be replied not found")
        return message

    def _message(self, chat: Chat, p: Params, missing: str) -> dict[str, Any]:
        if "inline_message_id" in p:
            raise bad_request("MESSAGE_ID_INVALID")
        message_id = p.int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None:
            raise bad_request(missing)
        return message

    def _own_message(self, p: Params) -> tuple[Chat, dict[str, Any]]:
        chat = self._chat(p)
        message = self._message(chat, p, "message to edit not found")
        if message["from"]["id"] != self.world.bot["id"]:
            raise bad_request("message can't be edited")
        return chat, message

    def _with_mentioned_users(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A text_mention carries the whole user, as Telegram returns it; a mention of someone
        the world does not know is dropped (Telegram shows it as plain text)."""
        kept = []
        for entity in entities:
            if entity.get("type") == "text_mention":
                user = self.world.users.get(int(entity.get("user", {}).get("id", 0)))
                if user is None:
                    continue
                entity = {**entity, "user": user_object(user)}
            kept.append(entity)
        return kept

    def _text(
        self, p: Params, name: str, *, limit: int, entities_name: str
    ) -> tuple[str, list[dict[str, Any]]]:
        raw = p.str(name) or ""
        text, entities = format_text(raw, p.str("parse_mode"), p.json(entities_name))
        entities = self._with_mentioned_users(entities)
        if len(text) > limit:
            raise bad_request(
                "message is too long" if name == "text" else "message caption is too long"
            )
        return text, entities

    def _send(
        self, chat: Chat, p: Params, content: dict[str, Any], extra: dict | None = None
    ) -> dict[str, Any]:
        """Store a bot message with the common send options and apply its reply_markup."""
        thread_id = self._thread(chat, p)
        reply_to = self._reply_to(chat, p)
        markup = check_reply_markup(p.json("reply_markup"), chat.type)
        if markup and markup[0] == "inline":
            content = {**content, "reply_markup": markup[1]}
        message = self.world.store_message(
            chat, self.world.bot, content, thread_id=thread_id, reply_to=reply_to, extra=extra
        )
        if markup and markup[0] == "reply":
            self.world.set_reply_keyboard(chat, markup[1])
        elif markup and markup[0] == "remove":
            self.world.set_reply_keyboard(chat, None)
        return message

    def _caption(self, p: Params) -> dict[str, Any]:
        if "caption" not in p:
            return {}
        text, entities = self._text(
            p, "caption", limit=MAX_CAPTION_LENGTH, entities_name="caption_entities"
        )
        content: dict[str, Any] = {"caption": text} if text else {}
        if entities:
            content["caption_entities"] = entities
        return content

    def _input_file(self, p: Params, name: str, kind: str) -> StoredFile:
        value = p.input_file(name)
        if value is None:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, Upload):
            return self.world.files.put(
                value.data, filename=value.filename, mime_type=value.content_type, kind=kind
            )
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = self.world.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored

    # ---- identity, updates, webhook ---------------------------------------------------------

    async def m_getMe(self, p: Params) -> dict[str, Any]:
        return {
            **self.world.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def m_logOut(self, p: Params) -> bool:
        return True

    async def m_close(self, p: Params) -> bool:
        return True

    async def m_getUpdates(self, p: Params) -> list[dict[str, Any]]:
        if self.world.webhook["url"]:
            raise self._conflict_with_webhook()
        self.world.updates.set_allowed(p.json("allowed_updates"))
        return await self.world.updates.get_updates(
            offset=p.int("offset"), limit=p.int("limit"), wait=p.float("timeout")
        )

    @staticmethod
    def _conflict_with_webhook() -> BotApiError:
        return BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )

    async def m_setWebhook(self, p: Params) -> bool:
        url = p.str("url") or ""
        if url and not url.startswith(("https://", "http://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.str("secret_token")
        if secret is not None and not SECRET_TOKEN_RE.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = p.int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: invalid max_connections")
        allowed = p.json("allowed_updates")
        self.world.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": max_connections,
            "allowed_updates": allowed,
        }
        self.world.updates.set_allowed(allowed)
        if p.bool("drop_pending_updates"):
            self.world.updates.drop_pending()
        self.world.updates.notify()  # deliveries start
        return True

    async def m_deleteWebhook(self, p: Params) -> bool:
        self.world.webhook = {"url": ""}
        if p.bool("drop_pending_updates"):
            self.world.updates.drop_pending()
        self.world.updates.notify()
        return True

    async def m_getWebhookInfo(self, p: Params) -> dict[str, Any]:
        webhook = self.world.webhook
        info: dict[str, Any] = {
            "url": webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": self.world.updates.pending_count,
        }
        if webhook["url"]:
            info["max_connections"] = webhook.get("max_connections", 40)
            if webhook.get("allowed_updates") is not None:
                info["allowed_updates"] = webhook["allowed_updates"]
        for key in ("last_error_date", "last_error_message"):
            if webhook.get(key) is not None:
                info[key] = webhook[key]
        return info

    # ---- commands and menu ------------------------------------------------------------------

    @staticmethod
    def _menu_slot(p: Params) -> tuple[ScopeKey, str]:
        return scope_key(p.json("scope")), language_key(p.str("language_code"))

    async def m_setMyCommands(self, p: Params) -> bool:
        commands = p.json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_RE.match(command.get("command", "")):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description") or "") <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        menu = [{"command": c["command"], "description": c["description"]} for c in commands]
        self.world.commands.set(*self._menu_slot(p), menu)
        self.world.events.publish({"type": "commands"})
        return True

    async def m_getMyCommands(self, p: Params) -> list[dict[str, Any]]:
        return copy.deepcopy(self.world.commands.get(*self._menu_slot(p)))

    async def m_deleteMyCommands(self, p: Params) -> bool:
        self.world.commands.delete(*self._menu_slot(p))
        self.world.events.publish({"type": "commands"})
        return True

    async def m_setChatMenuButton(self, p: Params) -> bool:
        button = p.json("menu_button") or {"type": "default"}
        if "chat_id" in p:
            self._chat(p).menu_button = button
        return True

    async def m_getChatMenuButton(self, p: Params) -> dict[str, Any]:
        return self._chat(p).menu_button if "chat_id" in p else {"type": "commands"}

    # ---- sending ----------------------------------------------------------------------------

    async def m_sendMessage(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        text, entities = self._text(p, "text", limit=MAX_TEXT_LENGTH, entities_name="entities")
        if not text:
            raise bad_request("message text is empty")
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        options = p.json("link_preview_options")
        if isinstance(options, dict) and options:
            content["link_preview_options"] = options
        return self._send(chat, p, content)

    async def m_sendPhoto(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        stored = self._input_file(p, "photo", "photo")
        content = {**media_content("photo", stored), **self._caption(p)}
        if p.bool("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._send(chat, p, content)

    async def m_sendDocument(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        stored = self._input_file(p, "document", "document")
        return self._send(chat, p, {**media_content("document", stored), **self._caption(p)})

    async def m_sendContact(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        contact: dict[str, str | None] = {
            "phone_number": p.str("phone_number", required=True),
            "first_name": p.str("first_name", required=True),
        }
        if "last_name" in p:
            contact["last_name"] = p.str("last_name")
        return self._send(chat, p, {"contact": contact})

    async def m_sendChatAction(self, p: Params) -> bool:
        chat = self._chat(p)
        action = p.str("action", required=True)
        self.world.events.publish(
            {
                "type": "chat_action",
                "chat_id": chat.id,
                "action": action,
                "message_thread_id": self._thread(chat, p),
            }
        )
        return True

    async def m_copyMessage(self, p: Params) -> dict[str, int]:
        chat = self._chat(p)
        source = self._chat(p, "from_chat_id")
        original = self._message(source, p, "message to copy not found")
        if not any(key in original for key in CONTENT_KEYS) or any(
            key in original for key in SERVICE_KEYS
        ):
            raise bad_request("message can't be copied")
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in CONTENT_KEYS}
        if "caption" in p:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption(p))
        message = self._send(chat, p, content)
        return {"message_id": message["message_id"]}

    async def m_forwardMessage(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        source = self._chat(p, "from_chat_id")
        original = self._message(source, p, "message to forward not found")
        if any(key in original for key in SERVICE_KEYS):
            raise bad_request("message can't be forwarded")
        content = {k: copy.deepcopy(v) for k, v in original.items() if k in CONTENT_KEYS}
        origin = original.get("forward_origin") or {
            "type": "user",
            "date": original["date"],
            "sender_user": original["from"],
        }
        return self._send(chat, p, content, extra={"forward_origin": origin})

    # ---- editing and deleting ---------------------------------------------------------------

    @staticmethod
    def _inline_markup(p: Params, chat: Chat) -> dict[str, Any] | None:
        markup = check_reply_markup(p.json("reply_markup"), chat.type)
        if markup is None:
            return None
        if markup[0] != "inline":
            raise bad_request("inline keyboard expected")
        return markup[1]

    def _apply_edit(
        self, chat: Chat, message: dict[str, Any], changes: dict[str, Any], markup: dict | None
    ) -> dict[str, Any]:
        edited = {k: v for k, v in message.items() if k not in changes and k != "reply_markup"}
        edited.update({k: v for k, v in changes.items() if v})
        if markup:
            edited["reply_markup"] = markup
        compare = ("text", "entities", "caption", "caption_entities", "reply_markup")
        if all(message.get(k) == edited.get(k) for k in compare):
            raise bad_request(NOT_MODIFIED)
        edited["edit_date"] = self.world.now()
        self.world.replace_message(chat, edited)
        return edited

    async def m_editMessageText(self, p: Params) -> dict[str, Any]:
        chat, message = self._own_message(p)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._text(p, "text", limit=MAX_TEXT_LENGTH, entities_name="entities")
        if not text:
            raise bad_request("message text is empty")
        markup = self._inline_markup(p, chat)
        return self._apply_edit(chat, message, {"text": text, "entities": entities}, markup)

    async def m_editMessageCaption(self, p: Params) -> dict[str, Any]:
        chat, message = self._own_message(p)
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        caption = self._caption(p)
        markup = self._inline_markup(p, chat)
        changes = {
            "caption": caption.get("caption"),
            "caption_entities": caption.get("caption_entities"),
        }
        return self._apply_edit(chat, message, changes, markup)

    async def m_editMessageReplyMarkup(self, p: Params) -> dict[str, Any]:
        chat, message = self._own_message(p)
        return self._apply_edit(chat, message, {}, self._inline_markup(p, chat))

    async def m_deleteMessage(self, p: Params) -> bool:
        chat = self._chat(p)
        message = self._message(chat, p, "message to delete not found")
        if (
            message["from"]["id"] != self.world.bot["id"]
            and chat.type != "private"
            and (chat.members.get(self.world.bot["id"]) != "administrator")
        ):
            raise bad_request("message can't be deleted")
        self.world.remove_message(chat, message["message_id"])
        return True

    async def m_deleteMessages(self, p: Params) -> bool:
        chat = self._chat(p)
        ids = p.json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        found = [i for i in ids if i in chat.messages]
        if not found:
            raise bad_request("message to delete not found")
        for message_id in found:
            self.world.remove_message(chat, message_id)
        return True

    async def m_answerCallbackQuery(self, p: Params) -> bool:
        query_id = p.str("callback_query_id", required=True)
        query = self.world.callback_queries.pop(query_id, None)
        if query is None:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.str("text")
        if text and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.world.answered_queries.add(query_id)
        self.world.events.publish(
            {
                "type": "callback_answer",
                "query_id": query_id,
                "user_id": query["from"]["id"],
                "chat_id": query["message"]["chat"]["id"],
                "message_id": query["message"]["message_id"],
                "text": text,
                "show_alert": p.bool("show_alert"),
                "url": p.str("url"),
            }
        )
        return True

    async def m_setMessageReaction(self, p: Params) -> bool:
        chat = self._chat(p)
        self._message(chat, p, "message to react not found")
        return True

    async def m_pinChatMessage(self, p: Params) -> bool:
        chat = self._chat(p)
        chat.pinned_message_id = self._message(chat, p, "message to pin not found")["message_id"]
        return True

    async def m_unpinChatMessage(self, p: Params) -> bool:
        self._chat(p).pinned_message_id = None
        return True

    async def m_unpinAllChatMessages(self, p: Params) -> bool:
        self._chat(p).pinned_message_id = None
        return True

    # ---- chats and members ------------------------------------------------------------------

    async def m_getChat(self, p: Params) -> dict[str, Any]:
        return self._chat(p).as_full_info()

    def _member(self, chat: Chat, user_id: int) -> dict[str, Any]:
        user = self.world.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return member_object(user, chat.members.get(user_id, "left"))

    async def m_getChatMember(self, p: Params) -> dict[str, Any]:
        chat = self._chat(p)
        return self._member(chat, p.int("user_id", required=True))

    async def m_getChatAdministrators(self, p: Params) -> list[dict[str, Any]]:
        chat = self._chat(p)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [
            self._member(chat, uid)
            for uid, status in chat.members.items()
            if status in {"creator", "administrator"}
        ]

    async def m_getChatMemberCount(self, p: Params) -> int:
        return len(self._chat(p).members)

    async def m_getUserProfilePhotos(self, p: Params) -> dict[str, Any]:
        self.world.user(p.int("user_id", required=True))
        return {"total_count": 0, "photos": []}

    # ---- forum topics -----------------------------------------------------------------------

    def _forum(self, p: Params) -> Chat:
        chat = self._chat(p)
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        return chat

    def _topic(self, chat: Chat, p: Params) -> Topic:
        topic = chat.topics.get(p.int("message_thread_id", required=True))
        if topic is None:
            raise bad_request("TOPIC_ID_INVALID")
        return topic

    def _topic_event(self, chat: Chat, topic: Topic, service: dict[str, Any]) -> None:
        self.world.store_message(chat, self.world.bot, service, thread_id=topic.message_thread_id)
        self.world.events.publish(
            {
                "type": "topic",
                "chat_id": chat.id,
                "topic": {**topic.as_api(), "is_closed": topic.is_closed},
            }
        )

    async def m_createForumTopic(self, p: Params) -> dict[str, Any]:
        chat = self._forum(p)
        name = p.str("name") or ""
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        color = p.int("icon_color") or TOPIC_COLORS[0]
        if color not in TOPIC_COLORS:
            raise bad_request("TOPIC_ICON_COLOR_INVALID")
        thread_id = chat.next_message_id()
        topic = Topic(thread_id, name, color, p.str("icon_custom_emoji_id"))
        chat.topics[thread_id] = topic
        created = {"name": name, "icon_color": color}
        message = {
            "message_id": thread_id,
            "from": user_object(self.world.bot),
            "chat": chat.as_api(),
            "date": self.world.now(),
            "message_thread_id": thread_id,
            "is_topic_message": True,
            "forum_topic_created": created,
        }
        chat.messages[thread_id] = message
        self.world.events.publish({"type": "message", "chat_id": chat.id, "message": message})
        self.world.events.publish(
            {"type": "topic", "chat_id": chat.id, "topic": {**topic.as_api(), "is_closed": False}}
        )
        return topic.as_api()

    async def m_editForumTopic(self, p: Params) -> bool:
        chat = self._forum(p)
        topic = self._topic(chat, p)
        name = p.str("name")
        emoji = p.str("icon_custom_emoji_id")
        if (name is None or name == topic.name) and (
            emoji is None or emoji == topic.icon_custom_emoji_id
        ):
            raise bad_request("TOPIC_NOT_MODIFIED")
        if name is not None and len(name) > 128:
            raise bad_request("TOPIC_TITLE_TOO_LONG")
        edited: dict[str, Any] = {}
        if name is not None:
            topic.name = edited["name"] = name
        if emoji is not None:
            topic.icon_custom_emoji_id = edited["icon_custom_emoji_id"] = emoji
        self._topic_event(chat, topic, {"forum_topic_edited": edited})
        return True

    async def _set_closed(self, p: Params, closed: bool) -> bool:
        chat = self._forum(p)
        topic = self._topic(chat, p)
        if topic.is_closed == closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.is_closed = closed
        key = "forum_topic_closed" if closed else "forum_topic_reopened"
        self._topic_event(chat, topic, {key: {}})
        return True

    async def m_closeForumTopic(self, p: Params) -> bool:
        return await self._set_closed(p, True)

    async def m_reopenForumTopic(self, p: Params) -> bool:
        return await self._set_closed(p, False)

    async def m_deleteForumTopic(self, p: Params) -> bool:
        chat = self._forum(p)
        topic = self._topic(chat, p)
        del chat.topics[topic.message_thread_id]
        for message_id, message in list(chat.messages.items()):
            if message.get("message_thread_id") == topic.message_thread_id:
                self.world.remove_message(chat, message_id)
        self.world.events.publish(
            {
                "type": "topic_deleted",
                "chat_id": chat.id,
                "message_thread_id": topic.message_thread_id,
            }
        )
        return True

    # ---- files ------------------------------------------------------------------------------

    async def m_getFile(self, p: Params) -> dict[str, Any]:
        stored = self.world.files.get(p.str("file_id", required=True) or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.as_file()
