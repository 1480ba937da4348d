"""The picture of a step (the step table's `picture`), sent once above its window.

Sent from the window's getter the first time a dialog shows the step: the photo goes first and
the window is then sent below it (`ShowMode.SEND`), so the picture stays right above the text it
illustrates. Which pictures a dialog has shown is kept in its data; a failed send is logged and
the step goes on without it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import lazy_gettext as __
from aiogram_dialog import DialogManager, ShowMode

from bot.deps import deps
from bot.dialogs.backend_step import challenge_of
from bot.dialogs.context import bot_of
from bot.dialogs.steps import step_info

logger = logging.getLogger(__name__)

SHOWN = "_pictures"

CAPTIONS: dict[str, Any] = {
    "journal_messenger_icon": __(
        "1 — the messenger icon in the e-journal's navigation bar; 2 — the button «Перейти к "
        "подключению»."
    ),
    "call_reset": __(
        "This is a reset call: the code is the last 4 digits of the number that called you. "
        "You do not need to answer."
    ),
    "forgot_password": __(
        "If you forget the password, this is where to press in the VK ID window. Here, in the "
        "chat, it is the button with the same words below."
    ),
}

CONDITIONS: dict[str, Callable[[DialogManager], bool]] = {
    "by_call": lambda manager: challenge_of(manager).get("channel") == "call",
}


async def show_step_picture(manager: DialogManager) -> None:
    """Send the picture of the step on screen if the dialog has not shown it yet."""
    info = step_info(manager.current_context().state)
    picture = info.picture if info is not None else None
    if picture is None:
        return
    shown: list[str] = manager.dialog_data.setdefault(SHOWN, [])
    if picture.name in shown:
        return
    if picture.only_if is not None and not CONDITIONS[picture.only_if](manager):
        return
    sender = deps(manager).get("pictures")
    chat = deps(manager).get("event_chat")
    if sender is None or chat is None or picture.name not in sender.names:
        return
    shown.append(picture.name)
    try:
        await sender.send(
            bot_of(manager), chat.id, picture.name, caption=str(CAPTIONS[picture.name])
        )
    except TelegramAPIError as error:
        logger.warning("picture %s not sent: %s", picture.name, error)
        return
    manager.show_mode = ShowMode.SEND  # the window below its picture
