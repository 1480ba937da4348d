"""«Начать заново»: the linking starts again from the greeting, on a fresh flow the backend
opens for the same e-journal account (`POST /v1/flows/{id}/restart`) — from any step, after a
cancelled consent, and as the way to change the number once the code was accepted.

Where something would be lost (the flow is past the phone), the teacher is asked first
(«Начать заново?» with «↩️ Вернуться к шагу»); a flow still waiting for the phone just shows the
greeting again, and a cancelled one restarts at once. The backend keeps every budget across the
restart (cooldowns, codes, wrong codes, password locks), so starting over never buys fresh tries.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram_dialog import DialogManager, ShowMode, StartMode

from bot.dialogs.context import linking_of, now, sessions_of, user_id_of
from bot.dialogs.notices import hint_notice, put_notice, refusal_notice, report_refusal
from bot.dialogs.states import Onboarding
from services.linking_client import (
    AlreadyLinked,
    BackendUnavailable,
    Flow,
    FlowState,
    LinkingError,
    Profile,
)

logger = logging.getLogger(__name__)

NOTHING_TO_LOSE = frozenset({FlowState.PHONE})
"""The flow's states where the greeting on the same flow is already a clean start."""


def flow_start_data(flow: Flow, first_name: str | None) -> dict[str, Any]:
    """What the onboarding needs to greet the teacher and start the Link dialog."""
    return {
        "flow_id": flow.flow_id,
        "mesh_account_id": flow.mesh_account.id,
        "mesh_name": flow.mesh_account.full_name,
        "school": flow.mesh_account.school,
        "first_name": first_name,
    }


async def _how_to_open(manager: DialogManager, notice: dict[str, Any] | None = None) -> None:
    data = {"notice": notice} if notice else None
    await manager.start(Onboarding.how_to_open, data=data, mode=StartMode.RESET_STACK)


async def _already_linked(manager: DialogManager, profile: Profile | None) -> None:
    data = (
        {"profile": {"full_name": profile.full_name, "school": profile.school}} if profile else {}
    )
    await manager.start(Onboarding.already_linked, data=data, mode=StartMode.RESET_STACK)


async def _greet(manager: DialogManager, flow: Flow) -> None:
    await manager.start(
        Onboarding.greeting,
        data=flow_start_data(flow, manager.event.from_user.first_name),  # type: ignore[union-attr]
        mode=StartMode.RESET_STACK,
        show_mode=ShowMode.SEND,
    )


async def restart_linking(manager: DialogManager) -> None:
    """«Начать заново» wherever it is pressed or typed (see the module docstring)."""
    if manager.has_context() and manager.current_context().state == Onboarding.restart_confirm:
        await confirm_restart(manager)  # «начать заново» typed on «Начать заново?»: a yes
        return
    sessions = sessions_of(manager)
    record = await sessions.get(user_id_of(manager)) if sessions is not None else None
    if record is None or not record.flow_id:
        await _how_to_open(manager)
        return
    try:
        flow = await linking_of(manager).get_flow(record.flow_id)
    except BackendUnavailable as error:
        if manager.has_context():  # the step stays; «Повторить» is a tap on «Начать заново»
            await report_refusal(manager, error)
        else:
            await _how_to_open(manager, refusal_notice(error, now(manager)))
        return
    except LinkingError:
        await _how_to_open(manager, hint_notice("flow_finished"))
        return
    if flow.state is FlowState.LINKED:
        await _already_linked(manager, flow.linked_profile)
    elif flow.state in NOTHING_TO_LOSE:
        await _greet(manager, flow)
    elif flow.state is FlowState.CANCELLED or not manager.has_context():
        await start_over(manager, flow.flow_id)
    else:
        await manager.start(
            Onboarding.restart_confirm,
            data={"flow_id": flow.flow_id, "past_code": flow.state not in _BEFORE_THE_CODE},
            show_mode=ShowMode.SEND,
        )


_BEFORE_THE_CODE = frozenset({FlowState.PHONE, FlowState.PASSWORD, FlowState.CODE})


async def confirm_restart(manager: DialogManager) -> None:
    """«Да, начать заново» on the confirmation screen."""
    flow_id = (manager.start_data or {}).get("flow_id")  # type: ignore[union-attr]
    if not flow_id:
        await _how_to_open(manager)
        return
    await start_over(manager, flow_id)


async def start_over(manager: DialogManager, flow_id: str) -> None:
    """Ask the backend for a fresh flow in place of `flow_id` and greet the teacher on it."""
    try:
        fresh = await linking_of(manager).restart_flow(flow_id)
    except AlreadyLinked as error:
        await _already_linked(manager, error.profile)
        return
    except BackendUnavailable as error:
        if manager.has_context():  # the screen stays: the same button tries again
            put_notice(manager, refusal_notice(error, now(manager)))
        else:
            await _how_to_open(manager, refusal_notice(error, now(manager)))
        return
    except LinkingError as error:  # expired, or replaced by a newer link: the e-journal's link
        logger.info("restart refused: %s", error.code)
        await _how_to_open(manager, hint_notice("flow_finished"))
        return
    sessions = sessions_of(manager)
    if sessions is not None:
        try:
            await sessions.switch_flow(user_id_of(manager), fresh.flow_id)
        except Exception:  # the dialog carries the flow id itself; the record is bookkeeping
            logger.exception("could not note the restarted flow")
    await _greet(manager, fresh)
