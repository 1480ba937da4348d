"""«Шаг k из n» and the record of which step a teacher entered when (helpdesk card, /stats)."""

from __future__ import annotations

import logging

from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.text import Format

from bot.dialogs.context import scenario_of, sessions_of, step_name, user_id_of
from bot.dialogs.states import Recovery
from bot.dialogs.steps import step_position, total_span
from bot.i18n import translate as _

logger = logging.getLogger(__name__)

RECORDED_STEP = "_step"


def progress_line(step: str, scenario: str | None, authorised: bool) -> str:
    """«Шаг k из n»; «Восстановление пароля · шаг k из n» inside scenario C.

    Before the phone number the backend has not chosen the scenario yet: the phone step says
    «Шаг 1 из 4–6», the span of the routes in the step table, and the next step names the total.
    """
    position = step_position(step, scenario, authorised)
    if position is None:
        return ""
    k, n = position
    if step.startswith(f"{Recovery.__full_group_name__}:"):
        return _("Password recovery · step {k} of {n}").format(k=k, n=n)
    span = total_span(step) if scenario is None else None
    if span is not None and span[0] != span[1]:
        return _("Step {k} of {fewest}–{most}").format(k=k, fewest=span[0], most=span[1])
    return _("Step {k} of {n}").format(k=k, n=n)


def current_progress(manager: DialogManager) -> str:
    return progress_line(
        step_name(manager), scenario_of(manager), bool(manager.dialog_data.get("authorised"))
    )


async def record_entering(manager: DialogManager) -> None:
    """Note the step on screen once per visit (never fails the dialog)."""
    data = manager.dialog_data
    step = step_name(manager)
    if data.get(RECORDED_STEP) == step:
        return
    data[RECORDED_STEP] = step
    sessions = sessions_of(manager)
    if sessions is None:
        return
    try:
        await sessions.enter_step(
            user_id_of(manager),
            step,
            scenario=scenario_of(manager),
            phone_masked=data.get("phone_masked"),
        )
    except Exception:
        logger.exception("could not record a step")


def progress_text() -> Format:
    return Format("<i>{progress}</i>", when="progress")
