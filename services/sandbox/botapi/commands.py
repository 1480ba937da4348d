"""The bot's command menus: set per scope and language, resolved for a person as Telegram does.

`setMyCommands`/`getMyCommands`/`deleteMyCommands` address one (scope, language_code) slot;
a client showing the menu («/» in the message field) takes the first slot that is set, in the
order the Bot API documents under "Determining list of commands".
"""

from __future__ import annotations

import re
from typing import Any

from services.sandbox.botapi.errors import bad_request

Commands = list[dict[str, str]]
ScopeKey = tuple[str, int | None, int | None]  # (type, chat_id, user_id)

SCOPE_TYPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
LANGUAGE_RE = re.compile(r"^[a-z]{2}$")


def scope_key(scope: Any) -> ScopeKey:
    """A BotCommandScope object (None = default) as a key; refuses what Telegram refuses."""
    if scope is None:
        return ("default", None, None)
    if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
        raise bad_request("can't parse BotCommandScope")
    needed = SCOPE_TYPES[scope["type"]]
    ids: list[int | None] = []
    for name in ("chat_id", "user_id"):
        value = scope.get(name)
        if name not in needed:
            ids.append(None)
        elif isinstance(value, int) and not isinstance(value, bool):
            ids.append(value)
        else:
            raise bad_request(f"can't parse BotCommandScope: {name} is required")
    return (scope["type"], ids[0], ids[1])


def language_key(language_code: str | None) -> str:
    """'' for all languages, else a two-letter ISO 639-1 code."""
    if not language_code:
        return ""
    if not LANGUAGE_RE.match(language_code):
        raise bad_request("invalid language code specified")
    return language_code


class CommandMenus:
    """Every command list the bot has set, by (scope, language)."""

    def __init__(self) -> None:
        self._lists: dict[tuple[ScopeKey, str], Commands] = {}

    def set(self, scope: ScopeKey, language: str, commands: Commands) -> None:
        if commands:
            self._lists[(scope, language)] = commands
        else:  # an empty list is how a bot deletes a menu
            self._lists.pop((scope, language), None)

    def get(self, scope: ScopeKey, language: str) -> Commands:
        return self._lists.get((scope, language), [])

    def delete(self, scope: ScopeKey, language: str) -> None:
        self._lists.pop((scope, language), None)

    def for_person(
        self, chat_id: int, user_id: int, language: str, *, private: bool, admin: bool = False
    ) -> Commands:
        """The menu a person sees in a chat: the first list set, in the documented order."""
        if private:
            scopes: list[ScopeKey] = [("chat", chat_id, None), ("all_private_chats", None, None)]
        else:
            scopes = [("chat_member", chat_id, user_id)]
            if admin:
                scopes.append(("chat_administrators", chat_id, None))
            scopes.append(("chat", chat_id, None))
            if admin:
                scopes.append(("all_chat_administrators", None, None))
            scopes.append(("all_group_chats", None, None))
        scopes.append(("default", None, None))
        for scope in scopes:
            for slot in (language, ""):
                commands = self._lists.get((scope, slot))
                if commands:
                    return commands
        return []
