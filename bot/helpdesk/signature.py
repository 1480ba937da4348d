"""An operator's answer as the teacher sees it: signed «Анна, служба поддержки:», so it never
looks like the bot's own words.

Text becomes a new message with the signature on its first line (formatting kept, as HTML);
media that can carry a caption are copied with the signature above the caption; the rest
(stickers, video notes) are copied after a one-line signature message.
"""

from __future__ import annotations

import html

from aiogram.enums import ParseMode
from aiogram.methods import CopyMessage, EditMessageCaption, EditMessageText, SendMessage
from aiogram.types import Message

_CAPTIONED = ("photo", "video", "document", "audio", "animation", "voice")


def signed_answer(
    message: Message, chat_id: int, signature: str
) -> list[SendMessage | CopyMessage]:
    """The Bot API calls that deliver `message` to `chat_id` under `signature`, in order."""
    head = f"<b>{html.escape(signature)}</b>"
    if message.text is not None:
        return [
            SendMessage(
                chat_id=chat_id, text=f"{head}\n{message.html_text}", parse_mode=ParseMode.HTML
            )
        ]
    copy = CopyMessage(chat_id=chat_id, from_chat_id=message.chat.id, message_id=message.message_id)
    if any(getattr(message, kind) is not None for kind in _CAPTIONED):
        caption = message.html_text if message.caption else ""
        copy.caption = f"{head}\n{caption}" if caption else head
        copy.parse_mode = ParseMode.HTML
        return [copy]
    return [SendMessage(chat_id=chat_id, text=head, parse_mode=ParseMode.HTML), copy]


def signed_edit(
    message: Message, chat_id: int, message_id: int, signature: str
) -> EditMessageText | EditMessageCaption | None:
    """The call that makes the teacher's copy `message_id` show the edited `message`, signed;
    None for what cannot change (a sticker)."""
    head = f"<b>{html.escape(signature)}</b>"
    if message.text is not None:
        return EditMessageText(
            chat_id=chat_id,
            message_id=message_id,
            text=f"{head}\n{message.html_text}",
            parse_mode=ParseMode.HTML,
        )
    if any(getattr(message, kind) is not None for kind in _CAPTIONED):
        caption = message.html_text if message.caption else ""
        return EditMessageCaption(
            chat_id=chat_id,
            message_id=message_id,
            caption=f"{head}\n{caption}" if caption else head,
            parse_mode=ParseMode.HTML,
        )
    return None
