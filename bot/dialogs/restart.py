"""«Начать заново»: the same linking again from the greeting, or — where the backend cannot go
back any more — a new linking, which today only the e-journal's link can open.

The backend takes a (new) phone number while its flow waits for the phone, the password or the
code, so there «Начать заново» replays the greeting on the same flow. Past the code, and after a
cancelled consent, starting over needs a fresh flow; the bot cannot make one yet (a backend
"restart flow" operation is planned), so it says how to get one — the e-journal's messenger icon →
«Перейти к подключению» — and the new linking goes on in this same chat. A step still on screen
stays below, one tap away («Вернуться к шагу»). `start_over` is the one place to change when the
backend learns to restart a flow.
"""

from __future__ import annotations

from typing import Any

from aiogram_dialog import DialogManager, ShowMode, StartMode

from bot.dialogs.context import linking_of, now, sessions_of, user_id_of
from bot.dialogs.notices import hint_notice, refusal_notice, report_refusal
from bot.dialogs.states import Onboarding
from services.linking_client import BackendUnavailable, Flow, FlowState, LinkingError

SAME_FLOW_STATES = frozenset({FlowState.PHONE, FlowState.PASSWORD, FlowState.CODE})
"""The flow's states where the backend still takes a phone number: the greeting again."""


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
    """«Начать заново» wherever it is pressed (see the module docstring)."""
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
    if flow.state in SAME_FLOW_STATES:
        await manager.start(
            Onboarding.greeting,
            data=flow_start_data(flow, manager.event.from_user.first_name),  # type: ignore[union-attr]
            mode=StartMode.RESET_STACK,
            show_mode=ShowMode.SEND,
        )
        return
    await start_over(manager, cancelled=flow.state is FlowState.CANCELLED)


async def start_over(manager: DialogManager, *, cancelled: bool) -> None:
    """A new linking for the same e-journal account: today, through the e-journal's link."""
    if cancelled or not manager.has_context():
        await _how_to_open(manager, hint_notice("start_over_after_cancel"))
        return
    await manager.start(
        Onboarding.how_to_open,
        data={"notice": hint_notice("start_over_from_journal"), "can_return": True},
        show_mode=ShowMode.SEND,
    )
