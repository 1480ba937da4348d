"""reply_markup validation with Telegram's refusals: inline keyboards, reply keyboards, removal."""

from __future__ import annotations

from typing import Any

from services.sandbox.botapi.errors import bad_request

_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def _check_inline(markup: dict[str, Any]) -> dict[str, Any]:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('can\'t parse inline keyboard: field "inline_keyboard" must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text must be a String")
            if not button["text"].strip():
                raise bad_request("BUTTON_TEXT_EMPTY")
            actions = [key for key in _INLINE_ACTIONS if key in button]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode()) <= 64
            ):
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if "url" in button and (not isinstance(url, str) or "://" not in url):
                raise bad_request("BUTTON_URL_INVALID")
    return {"inline_keyboard": rows}


def _check_reply(markup: dict[str, Any], chat_type: str) -> dict[str, Any]:
    rows = markup.get("keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in rows:
        for button in row:
            text = button if isinstance(button, str) else (button or {}).get("text")
            if not isinstance(text, str) or not text.strip():
                raise bad_request("can't parse keyboard button: Text must be non-empty")
            asks_contact = isinstance(button, dict) and button.get("request_contact")
            if asks_contact and chat_type != "private":
                raise bad_request("contact requests are allowed only in private chats")
    return markup


def check_reply_markup(raw: Any, chat_type: str) -> tuple[str, dict[str, Any]] | None:
    """Classify and validate a reply_markup: ("inline"|"reply"|"remove"|"force_reply", markup)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in raw:
        return "inline", _check_inline(raw)
    if "keyboard" in raw:
        return "reply", _check_reply(raw, chat_type)
    if raw.get("remove_keyboard") is True:
        return "remove", raw
    if raw.get("force_reply") is True:
        return "force_reply", raw
    raise bad_request("can't parse reply keyboard markup JSON object")


def find_callback_button(message: dict[str, Any], data: str) -> dict[str, Any] | None:
    """The inline button of `message` that carries `data` (a browser can only press real ones)."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return button
    return None
