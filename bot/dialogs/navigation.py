"""«Назад» (the screen the teacher actually saw before), «Начать заново», «Не получается».

Every step window remembers itself in the dialog's history when shown (`remember_screen`), so
«Назад» follows the teacher's own way, not the StatesGroup order; a nested dialog (Recovery over
Link) closes on «Назад» from its first screen.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery
from aiogram_dialog import DialogManager
from aiogram_dialog.api.exceptions import UnregisteredDialogError
from aiogram_dialog.widgets.kbd import Group, Row

from bot.dialogs.context import scenario_of, step_name
from bot.dialogs.notices import show_hint
from bot.dialogs.restart import restart_linking
from bot.dialogs.states import Handoff, Help
from bot.dialogs.steps import may_go_back
from bot.widgets.i18n import I18nConst
from bot.widgets.kbd import Button

HISTORY = "_history"
MAX_HISTORY = 30


def remember_screen(manager: DialogManager) -> None:
    history: list[str] = manager.dialog_data.setdefault(HISTORY, [])
    step = step_name(manager)
    if not history or history[-1] != step:
        history.append(step)
        del history[:-MAX_HISTORY]


def _is_nested(manager: DialogManager) -> bool:
    return len(manager.current_stack().intents) > 1


def can_go_back(manager: DialogManager) -> bool:
    return len(manager.dialog_data.get(HISTORY, [])) > 1 or _is_nested(manager)


async def go_back(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Назад»: the previous screen this teacher saw (not the StatesGroup order), if the backend
    can still take her answer there (the step table's `back_to`); else say why not."""
    history: list[str] = manager.dialog_data.get(HISTORY, [])
    if len(history) > 1:
        target = history[-2]
        if not may_go_back(manager.current_context().state, target):
            show_hint(manager, "back_blocked")
            return
        history.pop()
        group = manager.current_context().state.group
        state = next((s for s in group.__all_states__ if s.state == target), None)
        if state is not None:
            await manager.switch_to(state)
            return
    if _is_nested(manager):
        await manager.done()


async def restart(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Начать заново»: back to the greeting of the same linking (no new link needed)."""
    await restart_linking(manager)


async def open_help(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Не получается»: help for this very step."""
    try:
        await manager.start(
            Help.topic, data={"step": step_name(manager), "scenario": scenario_of(manager)}
        )
    except UnregisteredDialogError:
        show_hint(manager, "help_unavailable")


async def write_to_specialist(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """Back to the conversation of the ticket she kept open (the same ticket, found again)."""
    try:
        await manager.start(
            Handoff.chatting, data={"reason": "continue", "step": step_name(manager)}
        )
    except UnregisteredDialogError:
        show_hint(manager, "help_unavailable")


def help_button() -> Button:
    return Button(I18nConst("It doesn't work"), id="nav_help", on_click=open_help)


def nav_row() -> Group:
    """«Назад» · «Начать заново» · «Не получается» — on every step window; above them
    «✍️ Написать специалисту» while her helpdesk ticket is open."""
    return Group(
        Button(
            I18nConst("✍️ Write to the specialist"),
            id="nav_specialist",
            on_click=write_to_specialist,
            when="ticket_open",
        ),
        Row(
            Button(I18nConst("« Back"), id="nav_back", on_click=go_back, when="can_back"),
            Button(I18nConst("Start over"), id="nav_restart", on_click=restart),
            help_button(),
        ),
    )
