"""A teacher's message as operators see it: hers by name, her words masked, and a note when
something was hidden — never a raw `copyMessage` of what she typed.

Text becomes a new message written by the bot: «👩‍🏫 <b>Иванова М.</b>», then her text through
`mask_secrets` (passwords, codes, card-like numbers, long tokens, phone numbers), then, if anything
was masked, an italic note saying so. Her own formatting is not kept: the masked text is plain.

Photos and documents (the only media the handoff window accepts) are copied, because a screenshot
or a file is what a specialist needs, but their caption is replaced by the same header and masked
caption. The picture or file itself is passed as it is: the bot cannot read it (a screenshot of a
password would reach the group; the handoff screen asks for screenshots of the error, not of
codes). Anything else is not relayed at all (the window answers it itself).

Edits use the same rendering (`edit_for`), so an edited message is masked the same way.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from aiogram.enums import ParseMode
from aiogram.methods import CopyMessage, EditMessageCaption, EditMessageText, SendMessage
from aiogram.types import Message, ReplyParameters

from services.helpdesk import mask_secrets

TEXT_BODY_LIMIT = 3800  # Telegram's 4096 for a text, minus the header and the note
CAPTION_BODY_LIMIT = 800  # Telegram's 1024 for a caption, minus the header and the note


@dataclass(frozen=True)
class MaskedText:
    html: str  # what the group sees
    masked: str  # her words after masking (what the ticket log keeps)
    hidden: bool  # something was masked


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(author: str, text: str, *, note: str, limit: int = TEXT_BODY_LIMIT) -> MaskedText:
    """The header, her masked words and, when something was masked, `note` (in italics)."""
    masked = mask_secrets(text)
    hidden = masked != text
    parts = [f"👩‍🏫 <b>{html.escape(author)}</b>"]
    if masked:
        parts.append(html.escape(_cut(masked, limit)))
    if hidden:
        parts.append(f"<i>{html.escape(note)}</i>")
    return MaskedText("\n".join(parts), masked, hidden)


def is_media(message: Message) -> bool:
    return bool(message.photo or message.document)


def copy_for(
    message: Message,
    *,
    chat_id: int,
    thread_id: int | None,
    reply: ReplyParameters | None,
    author: str,
    note: str,
) -> tuple[SendMessage | CopyMessage, MaskedText]:
    """The Bot API call that shows `message` in the helpdesk group, and what it shows."""
    if is_media(message):
        shown = render(author, message.caption or "", note=note, limit=CAPTION_BODY_LIMIT)
        return (
            CopyMessage(
                chat_id=chat_id,
                from_chat_id=message.chat.id,
                message_id=message.message_id,
                message_thread_id=thread_id,
                reply_parameters=reply,
                caption=shown.html,
                parse_mode=ParseMode.HTML,
            ),
            shown,
        )
    shown = render(author, message.text or "", note=note)
    return (
        SendMessage(
            chat_id=chat_id,
            message_thread_id=thread_id,
            text=shown.html,
            parse_mode=ParseMode.HTML,
            reply_parameters=reply,
        ),
        shown,
    )


def edit_for(
    message: Message, *, chat_id: int, message_id: int, author: str, note: str
) -> tuple[EditMessageText | EditMessageCaption, MaskedText]:
    """The call that makes the group's copy of `message` show its edited version, masked."""
    if is_media(message):
        shown = render(author, message.caption or "", note=note, limit=CAPTION_BODY_LIMIT)
        return (
            EditMessageCaption(
                chat_id=chat_id,
                message_id=message_id,
                caption=shown.html,
                parse_mode=ParseMode.HTML,
            ),
            shown,
        )
    shown = render(author, message.text or "", note=note)
    return (
        EditMessageText(
            chat_id=chat_id, message_id=message_id, text=shown.html, parse_mode=ParseMode.HTML
        ),
        shown,
    )
