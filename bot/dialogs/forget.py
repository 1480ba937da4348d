"""When a linking ends, the dialogs forget the teacher's personal data.

While she links, her dialogs keep what the windows show and the backend needs: her number, the
names from the e-journal and VK ID, the profiles found, the name, birth date and gender she typed.
Once the flow is over — linked or cancelled (`Link.done`), or found already linked
(`Onboarding.already_linked`) — none of it is needed again: the closing window is shown once with
her details, and every context of her dialog stack then keeps only `KEPT` (what the closing
window needs to be shown again without them). A flow that is merely abandoned, expired or handed
to the helpdesk keeps its data for her return, until the retention deletes the abandoned dialog
(`DIALOG_RETENTION_DAYS`, bot/retention.py).

`forget_after_render` runs after the handler, so after the window was rendered, and before
aiogram-dialog saves the context (it is registered inside aiogram-dialog's context saver).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.fsm.state import State
from aiogram.types import TelegramObject
from aiogram_dialog.api.entities import Context
from aiogram_dialog.api.internal import CONTEXT_KEY, STACK_KEY, STORAGE_KEY

from bot.dialogs.states import Link, Onboarding

FINAL_STATES: frozenset[State] = frozenset({Link.done, Onboarding.already_linked})
KEPT = frozenset({"scenario", "finished"})
"""Dialog and start data that is no personal data: the scenario's name, how the flow ended."""


def holds_personal_data(context: Context) -> bool:
    start = context.start_data if isinstance(context.start_data, dict) else {}
    return bool(set(context.dialog_data) - KEPT or set(start) - KEPT or context.widget_data)


def forget(context: Context) -> None:
    """Keep only `KEPT` in the context's dialog and start data; widget data goes."""
    context.dialog_data = {k: v for k, v in context.dialog_data.items() if k in KEPT}
    if isinstance(context.start_data, dict):
        context.start_data = {k: v for k, v in context.start_data.items() if k in KEPT}
    elif context.start_data is not None:
        context.start_data = None
    context.widget_data = {}


async def forget_after_render(
    handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
    event: TelegramObject,
    data: dict[str, Any],
) -> Any:
    """Inner middleware: a handler that ended in a final window leaves no personal data behind."""
    result = await handler(event, data)
    context: Context | None = data.get(CONTEXT_KEY)
    if context is None or context.state not in FINAL_STATES or not holds_personal_data(context):
        return result
    forget(context)  # saved by aiogram-dialog right after this middleware
    stack, proxy = data.get(STACK_KEY), data.get(STORAGE_KEY)
    if stack is not None and proxy is not None:
        for intent_id in stack.intents:
            if intent_id == context.id:
                continue
            below = await proxy.load_context(intent_id)
            if holds_personal_data(below):
                forget(below)
                await proxy.save_context(below)
    return result
