"""Free text that obviously means something, wherever it is typed: «забыла пароль» → recovery.

`handle_free_text` is called by every text input whose input does not parse, and by the fallback
router outside any dialog. It routes by intent (bot/intents.py) and returns whether it did. It never
records or logs the text itself: only the intent's name.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.types import Message
from aiogram_dialog import DialogManager
from aiogram_dialog.api.exceptions import UnregisteredDialogError

from bot.dialogs.notices import clear_notice
from bot.dialogs.restart import restart_linking
from bot.dialogs.states import Handoff, Help, Recovery
from bot.intents import Intent, detect_intent

logger = logging.getLogger(__name__)

# Intents answered by the help screen, with the tip to show (None: the current step's tips).
_HELP_TOPICS: dict[Intent, str | None] = {
    Intent.CODE_NOT_ARRIVING: "code_late",
    Intent.WRONG_NUMBER: "wrong_number",
    Intent.VPN: "vpn",
    Intent.EXISTING_PROFILE: "existing_profile",
    Intent.BROWSER: "browser",
    Intent.HELP: None,
}


async def recovery_start_data(manager: DialogManager) -> dict[str, Any]:
    """Start data for Recovery: the phone and flow the dialogs below already know, if any.

    The link dialog keeps the teacher's E.164 phone and the flow id in its dialog data; the
    nearest dialog in the stack that has them wins.
    """
    found: dict[str, Any] = {"phone": None, "flow_id": None}
    if not manager.has_context():
        return found
    current = manager.current_context()
    storage = manager.storage()  # type: ignore[attr-defined]
    for intent_id in reversed(manager.current_stack().intents):
        context = current if intent_id == current.id else await storage.load_context(intent_id)
        sources = [context.dialog_data]
        if isinstance(context.start_data, dict):
            sources.append(context.start_data)
        for key in ("phone", "flow_id"):
            if found[key] is None:
                found[key] = next((s[key] for s in sources if s.get(key)), None)
        if found["phone"] and found["flow_id"]:
            break
    return found


def _where(manager: DialogManager) -> tuple[str | None, str | None]:
    """The step on screen ("Link:code") and the scenario, when a dialog is open."""
    if not manager.has_context():
        return None, None
    context = manager.current_context()
    start = context.start_data if isinstance(context.start_data, dict) else {}
    scenario = context.dialog_data.get("scenario") or start.get("scenario")
    return str(context.state.state), str(scenario) if scenario else None


async def _open_help(manager: DialogManager, data: dict[str, Any]) -> None:
    if manager.has_context() and manager.current_context().state == Help.topic:
        # Already on a help screen (its own input called us): show the new topic there rather
        # than stacking another help screen; the window re-renders after its input.
        manager.current_context().start_data = {**manager.start_data, **data}  # type: ignore[dict-item]
        return
    await manager.start(Help.topic, data=data)


async def _call_a_person(manager: DialogManager, step: str | None, scenario: str | None) -> None:
    try:
        await manager.start(Handoff.chatting, data={"reason": "free_text", "step": step})
    except UnregisteredDialogError:  # no helpdesk in this deployment: the help screen instead
        await _open_help(manager, {"step": step, "scenario": scenario})


async def handle_free_text(message: Message, manager: DialogManager) -> bool:
    """Act on what `message` clearly asks for; False when it asks for nothing we know."""
    intent = detect_intent(message.text or message.caption or "")
    if intent is None:
        return False
    step, scenario = _where(manager)
    logger.info("free text understood as %s at %s", intent, step or "no dialog")
    if manager.has_context():
        # An earlier hint («Нажмите одну из кнопок») is stale once the request is understood.
        clear_notice(manager)
    if intent is Intent.WANTS_HUMAN:
        await _call_a_person(manager, step, scenario)
    elif intent is Intent.FORGOT_PASSWORD:
        if step is not None and step.startswith("Recovery:"):
            await _open_help(manager, {"step": step, "scenario": scenario})
        else:
            await manager.start(Recovery.phone, data=await recovery_start_data(manager))
    elif intent is Intent.RESTART:
        await restart_linking(manager)
    else:
        await _open_help(
            manager, {"step": step, "scenario": scenario, "topic": _HELP_TOPICS[intent]}
        )
    return True
