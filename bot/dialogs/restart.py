"""«Начать заново»: the same linking again from the greeting, as the backend knows it."""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager, ShowMode, StartMode

from bot.dialogs.context import linking_of, now, sessions_of, user_id_of
from bot.dialogs.notices import hint_notice, refusal_notice, report_refusal
from bot.dialogs.states import Onboarding
from services.linking_client import BackendUnavailable, Flow, FlowState, LinkingError


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


async def restart_linking(manager: DialogManager) -> None:
    """The same linking from the greeting (the backend flow is kept)."""
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
    if flow.state is FlowState.LINKED and flow.linked_profile is not None:
        profile = flow.linked_profile
        data = {"profile": {"full_name": profile.full_name, "school": profile.school}}
        await manager.start(Onboarding.already_linked, data=data, mode=StartMode.RESET_STACK)
        return
    if flow.state is FlowState.CANCELLED:
        await _how_to_open(manager, hint_notice("flow_finished"))
        return
    await manager.start(
        Onboarding.greeting,
        data=flow_start_data(flow, manager.event.from_user.first_name),  # type: ignore[union-attr]
        mode=StartMode.RESET_STACK,
        show_mode=ShowMode.SEND,
    )
