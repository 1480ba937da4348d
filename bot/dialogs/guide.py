"""Guide mode: the teacher links in the e-journal's own window and the bot helps from the chat.

One window (`Guide.screen`) whose text follows the screen she is on: the window's title, the
guide's words for it, its picture (sent once per screen), and the bot's reaction to what just
happened there. The screen and the reactions come from her flow's events, which a watcher
follows (bot/guide_watcher.py) and applies here through aiogram-dialog's background manager, so
the window moves on by itself when she does.

Switching: «Я сделаю сама в электронном журнале» starts this dialog from any step of the chat's
own way (the greeting, the password step «Не хочу вводить пароль в чат», every link step);
«Сделай за меня» goes back to the chat's way at the step the backend is on (`Link` resynced from
the flow), so no progress is lost either way: both ways drive the one backend flow.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Data, Dialog, DialogManager, ShowMode, StartMode
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.text import Format

from bot.dialogs.context import bot_of, linking_of, now, sessions_of, user_id_of
from bot.dialogs.guide_screens import (
    FINISHED,
    reaction_text,
    refusal_reaction,
    screen_key,
    screen_of,
)
from bot.dialogs.notices import render_notice, show_hint
from bot.dialogs.states import Guide, Handoff, Link
from bot.widgets.i18n import I18nConst
from bot.widgets.kbd import Button
from bot.widgets.window import Window
from services.linking_client import BackendUnavailable, FlowEvent, LinkingError

logger = logging.getLogger(__name__)

WINDOW_SCREENS = {"intro": "journal", "vkid_phone": "phone", "account": "password"}
"""Screens the window reports itself (`screen` events): those the flow's state cannot tell."""

_PICTURES_SHOWN = "_guide_pictures"
_INTRO_SAID = "_guide_intro"
_RECORDED = "_guide_recorded"


# --------------------------------------------------------------------------- events → data


def apply_events(
    data: dict[str, Any], events: Iterable[FlowEvent], reminders: Iterable[str] = ()
) -> bool:
    """Fold the flow's new events (and due reminders) into the dialog's data; whether the
    window should be shown again: another screen, another reaction, or any refusal (she tried
    again and was refused again). Pure: no Telegram, no backend."""
    before = (data.get("screen"), data.get("reaction"))
    changed = False
    for event in events:
        changed = changed or event.kind == "refusal"
        data["after"] = max(int(data.get("after") or 0), event.seq)
        if event.kind == "step":
            second = (
                data.get("state") == "profile"
                and event.state == "phone"
                and data.get("scenario") == "existing_profile"
            )
            # A recovery from the window's password screen signs the flow in: on to the code.
            signed_in = data.get("recovery") == "done" and event.state == "code"
            data["reaction"] = (
                {"kind": "second_profile"}
                if second
                else {"kind": "signed_in_by_recovery"}
                if signed_in
                else None
            )
            if event.state != data.get("state"):
                data["stuck"] = False
            data["state"] = event.state
            data["scenario"] = event.scenario or data.get("scenario")
            data["recovery"] = None
            data["window"] = None
            if event.state != "code":
                data["channel"] = None
        elif event.kind == "code_sent":
            data["channel"] = event.channel
            if (data.get("reaction") or {}).get("kind") != "signed_in_by_recovery":
                data["reaction"] = None
        elif event.kind == "refusal":
            reaction = refusal_reaction(event)
            if reaction["kind"] == "code_invalid":
                reaction["channel"] = data.get("channel")
            data["reaction"] = reaction
        elif event.kind == "recovery":
            data["recovery"] = event.recovery_state
            data["reaction"] = None
        elif event.kind == "screen":
            data["window"] = WINDOW_SCREENS.get(event.screen or "")
            data["reaction"] = None
    for reminder in reminders:
        changed = True
        data["reaction"] = {"kind": reminder}
        if reminder == "stuck":
            data["stuck"] = True
    data["screen"] = data.get("window") or screen_key(
        data.get("state"), data.get("channel"), data.get("recovery"), data.get("scenario")
    )
    return changed or (data.get("screen"), data.get("reaction")) != before


def screen_from_flow(state: str, channel: str | None, scenario: str | None) -> str:
    """The screen to start on: at `phone` she has not opened the window yet."""
    return "journal" if state == "phone" else screen_key(state, channel, scenario=scenario)


# --------------------------------------------------------------------------- entering


async def start_guide(manager: DialogManager, flow_id: str, **extra: Any) -> None:
    """«Я сделаю сама в электронном журнале»: follow her flow from the screen it is on."""
    try:
        flow = await linking_of(manager).get_flow(flow_id)
    except (BackendUnavailable, LinkingError) as error:
        logger.info("guide mode not started: %s", error.code)
        show_hint(manager, "guide_unavailable")
        return
    channel = flow.challenge.channel if flow.challenge is not None else None
    try:  # follow from now on: what happened before (in the chat) is not news
        after = (await linking_of(manager).flow_events(flow_id)).next
    except (BackendUnavailable, LinkingError):
        after = 0
    data = {
        "after": after,
        "flow_id": flow_id,
        "state": flow.state.value,
        "scenario": flow.scenario.value if flow.scenario is not None else None,
        "channel": channel,
        "screen": screen_from_flow(
            flow.state.value, channel, flow.scenario.value if flow.scenario else None
        ),
        "phone_masked": flow.phone_masked,
        "mesh_name": flow.mesh_account.full_name,
        "school": flow.mesh_account.school,
        **extra,
    }
    await manager.start(Guide.screen, data=data, show_mode=ShowMode.SEND)


async def _on_start(start_data: Data, manager: DialogManager) -> None:
    manager.dialog_data.update(dict(start_data or {}) if isinstance(start_data, dict) else {})
    _follow(manager)


def _follow(manager: DialogManager) -> None:
    """Make sure a watcher follows her flow (again after a restart: every render asks)."""
    watcher = manager.middleware_data.get("guide")
    data = manager.dialog_data
    flow_id = data.get("flow_id")
    chat = manager.middleware_data.get("event_chat")
    if watcher is None or not flow_id or data.get("state") in FINISHED:
        return
    user_id = user_id_of(manager)
    chat_id = chat.id if chat is not None else user_id
    watcher.follow(bot_of(manager), user_id, chat_id, flow_id, after=int(data.get("after") or 0))


# --------------------------------------------------------------------------- window


async def _show_picture(manager: DialogManager, name: str | None) -> None:
    """The screen's picture, once per screen, above the window."""
    sender = manager.middleware_data.get("pictures")
    chat = manager.middleware_data.get("event_chat")
    if name is None or sender is None or chat is None or name not in sender.names:
        return
    shown: list[str] = manager.dialog_data.setdefault(_PICTURES_SHOWN, [])
    if name in shown:
        return
    shown.append(name)
    try:
        await sender.send(bot_of(manager), chat.id, name)
    except TelegramAPIError as error:
        logger.warning("guide picture %s not sent: %s", name, error)
        return
    manager.show_mode = ShowMode.SEND


async def _record_screen(manager: DialogManager, key: str) -> None:
    """Her step is the window's screen («Guide:code»): the helpdesk card and /stats see it."""
    data = manager.dialog_data
    if data.get(_RECORDED) == key:
        return
    data[_RECORDED] = key
    sessions = sessions_of(manager)
    if sessions is None:
        return
    try:
        await sessions.enter_step(
            user_id_of(manager),
            f"Guide:{key}",
            scenario=data.get("scenario"),
            phone_masked=data.get("phone_masked"),
        )
    except Exception:  # never fails the window
        logger.exception("could not record a guide screen")


async def guide_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    manager = dialog_manager
    data = manager.dialog_data
    _follow(manager)
    key = data.get("screen") or "journal"
    screen = screen_of(key)
    await _show_picture(manager, screen.picture)
    await _record_screen(manager, key)
    reaction: Mapping[str, Any] | None = data.get("reaction")
    finished = data.get("state") in FINISHED
    # How guide mode works is said once, on the first screen; later ones stay short.
    intro = not data.get(_INTRO_SAID) and not finished
    data[_INTRO_SAID] = True
    return {
        "reaction": reaction_text(reaction, now(manager)) if reaction else "",
        "title": screen.title,
        "what_to_do": str(screen.what_to_do),
        "notice": render_notice(manager),
        "working": not finished,
        "intro": intro,
    }


async def _to_chat(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Сделай за меня»: the chat's own way, at the step the backend is on now."""
    data = manager.dialog_data
    watcher = manager.middleware_data.get("guide")
    if watcher is not None:
        await watcher.stop(data["flow_id"])
    await manager.start(
        Link.phone,
        data={
            "flow_id": data["flow_id"],
            "mesh_name": data.get("mesh_name"),
            "school": data.get("school"),
            "resync": True,
        },
        mode=StartMode.RESET_STACK,
    )


async def _call_specialist(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    # The exact screen goes to the helpdesk card (bot/helpdesk/card.py reads "Guide:<screen>").
    screen = manager.dialog_data.get("screen") or "journal"
    await manager.start(Handoff.chatting, data={"reason": "guide", "step": f"Guide:{screen}"})


async def _on_text(message: Message, widget: Any, manager: DialogManager) -> None:
    """Typed text: what she types belongs in the window (the transcript keeps none of it)."""
    show_hint(manager, "guide_type_in_window")
    manager.show_mode = ShowMode.SEND


async def _on_result(start_data: Data, result: Any, manager: DialogManager) -> None:
    _follow(manager)  # back from the helpdesk: follow on


def create_guide_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("{reaction}\n", when="reaction"),
            Format("🖥 <b>«{title}»</b>\n{what_to_do}"),
            Format("\n{notice}", when="notice"),
            I18nConst(
                "\nI follow your window and write here when you move on. Rather have me do it "
                "here in the chat? Press «🤖 Do it for me in the chat».",
                when="intro",
            ),
            Button(
                I18nConst("🤖 Do it for me in the chat"),
                id="guide_to_chat",
                on_click=_to_chat,
                when="working",
            ),
            Button(
                I18nConst("🙋 Call a specialist"),
                id="guide_human",
                on_click=_call_specialist,
                when="working",
            ),
            MessageInput(_on_text),
            state=Guide.screen,
            getter=guide_getter,
        ),
        on_start=_on_start,
        on_process_result=_on_result,
    )
