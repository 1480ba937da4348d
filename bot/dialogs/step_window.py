"""The frame every step window shares: progress, the step's own widgets, the notice, retry,
«Назад · Начать заново · Не получается», and the answer to input the step cannot use.

`step_getter` is the dialog-level getter that fills the frame:
  progress   «Шаг k из n» (empty when the step has no place in the plan),
  notice     the last refusal or input hint, translated at render time; note: a side remark,
  can_back   whether «Назад» has a screen to go back to,
  ticket_open  whether her helpdesk ticket is open («✍️ Написать специалисту»),
  retry_*    whether «Повторить» (backend down) or «VPN выключен — повторить» is offered.
It also stops a countdown of another window in the chat (bot/countdowns.py), sends the step's
picture the first time (bot/dialogs/pictures.py), remembers each screen
for «Назад» and records entering a step for the helpdesk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram_dialog import DialogManager

from bot.dialogs.backend_step import RetryAction, retry_buttons, stop_other_countdown
from bot.dialogs.inputs import Expectation, any_input
from bot.dialogs.navigation import can_go_back, nav_row, remember_screen
from bot.dialogs.notices import notice_text, render_note, render_notice, retry_offer
from bot.dialogs.open_ticket import open_ticket_id
from bot.dialogs.pictures import show_step_picture
from bot.dialogs.progress import current_progress, progress_text, record_entering
from bot.widgets.window import Window


async def step_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    manager = dialog_manager
    stop_other_countdown(manager)
    await show_step_picture(manager)
    remember_screen(manager)
    await record_entering(manager)
    retry = retry_offer(manager)
    return {
        "progress": current_progress(manager),
        "notice": render_notice(manager),
        "note": render_note(manager),
        "can_back": can_go_back(manager),
        "ticket_open": await open_ticket_id(manager) is not None,
        "retry_unavailable": retry.get("kind") == "unavailable",
        "retry_vpn": retry.get("kind") == "vpn",
    }


def step_window(
    *widgets: Any,
    state: State,
    retries: Mapping[str, RetryAction],
    getter: Any = None,
    expect: Expectation = None,
) -> Window:
    """A step window: progress, the step's own text and inputs, notice, retry, nav row."""
    return Window(
        progress_text(),
        *widgets,
        notice_text(),
        retry_buttons(retries),
        nav_row(),
        any_input(expect),
        state=state,
        getter=getter,
    )
