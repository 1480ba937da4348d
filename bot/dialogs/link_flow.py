"""The Link dialog's side effects: calls to the backend and the window each answer leads to.

Handlers stay thin: they parse, run one backend operation through the step toolkit
(bot/dialogs/backend_step.py), and `apply_flow` picks the window from the backend's answer (never
from the teacher's guess).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager, ShowMode

from bot.dialogs.backend_step import Process, call, remember_challenge, step
from bot.dialogs.context import bot_of, linking_of, sessions_of, user_id_of
from bot.dialogs.notices import put_notice, show_hint, take_notice
from bot.dialogs.open_ticket import set_contact_keyboard
from bot.dialogs.states import Link
from services.linking_client import (
    BackendUnavailable,
    Flow,
    FlowState,
    LinkingClient,
    LinkingError,
    Profile,
)
from services.phones import mask_phone
from services.storage.link_sessions import EventKind

logger = logging.getLogger(__name__)


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    return {
        "profile_id": profile.profile_id,
        "full_name": profile.full_name,
        "birth_date": profile.birth_date.isoformat(),
        "gender": profile.gender,
        "school": profile.school,
    }


def _remember_flow(manager: DialogManager, flow: Flow) -> None:
    data = manager.dialog_data
    if flow.scenario is not None:
        data["scenario"] = flow.scenario.value
    if flow.vk_account is not None:
        data["vk_name"] = flow.vk_account.masked_name
        data["authorised"] = flow.vk_account.session_authorised
    if flow.phone_masked:
        data["phone_masked"] = flow.phone_masked
    data["mesh_name"] = flow.mesh_account.full_name
    data["school"] = flow.mesh_account.school
    if flow.profiles:
        data["profiles"] = [profile_to_dict(p) for p in flow.profiles]
    if flow.personal_data is not None and not data.get("personal_edited"):
        data["personal"] = {
            "full_name": flow.personal_data.full_name,
            "birth_date": flow.personal_data.birth_date.isoformat(),
            "gender": flow.personal_data.gender,
        }
    if flow.linked_profile is not None:
        data["linked_profile"] = profile_to_dict(flow.linked_profile)


async def apply_flow(manager: DialogManager, flow: Flow, *, after_phone: bool = False) -> None:
    """Store what the backend said and switch to the window of the flow's state."""
    _remember_flow(manager, flow)
    await remember_challenge(manager, flow.challenge)
    data = manager.dialog_data
    state = flow.state
    if state is FlowState.PHONE:
        target = Link.phone
    elif state is FlowState.PASSWORD:
        new_profile = flow.scenario is not None and flow.scenario.value == "new_profile"
        target = Link.account_card if after_phone and new_profile else Link.password
    elif state is FlowState.CODE:
        target = Link.code
    elif state is FlowState.PROFILE:
        target = Link.choose_profile
    elif state is FlowState.PERSONAL_DATA:
        complete = all((data.get("personal") or {}).get(k) for k in ("full_name", "birth_date"))
        target = Link.confirm_data if complete else Link.full_name
    elif state is FlowState.CONSENT:
        target = Link.consent
    else:  # linked or cancelled
        data["finished"] = state.value
        target = Link.done
    if manager.current_context().state != target:
        await manager.switch_to(target)


async def resync(manager: DialogManager) -> bool:
    """Take the flow up where the backend is (after guide mode); False: start at the phone."""
    try:
        flow = await linking_of(manager).get_flow(manager.dialog_data["flow_id"])
    except (BackendUnavailable, LinkingError) as error:
        logger.info("resync after guide mode failed: %s", error.code)
        return False
    if flow.state is FlowState.PHONE:
        return False
    await apply_flow(manager, flow)
    show_hint(manager, "guide_back_in_chat")
    return True


async def _read_flow(linking: LinkingClient, flow_id: str) -> Flow:
    return await linking.get_flow(flow_id)


async def _follow_flow(manager: DialogManager, flow: Flow) -> None:
    await apply_flow(manager, flow)


LINK = Process(id_key="flow_id", read=_read_flow, follow=_follow_flow)
"""The backend's link flow; an expired or unknown flow is explained on the step."""


async def offer_contact_button(manager: DialogManager) -> None:
    """A reply keyboard with «📱 Отправить мой номер» under the phone step."""
    markup = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📱 Send my number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder="+7 916 123-45-67",
    )
    await bot_of(manager).send_message(
        user_id_of(manager),
        _("⬇️ No need to type it: the «Send my number» button is under the input field."),
        reply_markup=markup,
    )
    await set_contact_keyboard(manager, True)
    manager.show_mode = ShowMode.SEND


async def acknowledge_phone(manager: DialogManager, phone_masked: str) -> None:
    """Take the contact keyboard away, saying which number was taken (masked)."""
    await bot_of(manager).send_message(
        user_id_of(manager),
        _("Number {phone} received.").format(phone=phone_masked),
        reply_markup=ReplyKeyboardRemove(),
    )
    await set_contact_keyboard(manager, False)
    manager.show_mode = ShowMode.SEND


async def read(manager: DialogManager) -> Flow | None:
    """The flow as the backend has it now; None (nothing said) if it cannot be read."""
    flow_id = manager.dialog_data.get("flow_id")
    if not flow_id:
        return None
    try:
        return await linking_of(manager).get_flow(flow_id)
    except LinkingError as error:
        logger.info("could not read the flow: %s", error.code)
        return None


# --------------------------------------------------------------------------- operations


# What the backend found on the number, said whenever her answer to «У вас уже есть учебный
# профиль?» was not the backend's: a guess («Не знаю») or a mistake.
_WHAT_THE_CHECK_FOUND: dict[tuple[str | None, bool], str] = {
    ("unknown", True): "profile_found",
    ("unknown", False): "no_profile_found",
    ("no", True): "profile_exists",
    ("yes", False): "no_profile_found",
}


async def submit_phone(manager: DialogManager, phone: str) -> None:
    """Give the phone; the backend decides A, B or registration."""
    manager.dialog_data["phone"] = phone
    manager.dialog_data["phone_masked"] = mask_phone(phone)
    logger.info("phone %s submitted", mask_phone(phone))
    flow = await call(
        manager,
        LINK,
        lambda linking, flow_id: linking.submit_phone(flow_id, phone),
        retry="phone",
        retry_args={"phone": phone},
    )
    if flow is None:
        return
    await acknowledge_phone(manager, flow.phone_masked or mask_phone(phone))
    for key in ("challenge", "personal", "personal_edited"):
        manager.dialog_data.pop(key, None)
    await apply_flow(manager, flow, after_phone=True)
    found = flow.scenario is not None and flow.scenario.value == "existing_profile"
    hint = _WHAT_THE_CHECK_FOUND.get((manager.dialog_data.get("branch"), found))
    if hint is not None:
        show_hint(manager, hint)


async def submit_password(manager: DialogManager, password: str) -> None:
    await step(
        manager,
        LINK,
        lambda linking, flow_id: linking.submit_password(flow_id, password),
        retry="reprompt",
    )


async def send_code(manager: DialogManager, channel: str) -> None:
    await step(
        manager,
        LINK,
        lambda linking, flow_id: linking.send_code(flow_id, channel),  # type: ignore[arg-type]
        retry="send_code",
        retry_args={"channel": channel},
    )


async def verify_code(manager: DialogManager, code: str) -> None:
    await step(
        manager, LINK, lambda linking, flow_id: linking.verify_code(flow_id, code), retry="reprompt"
    )


async def choose_profile(manager: DialogManager, profile_id: str) -> None:
    flow = await call(
        manager,
        LINK,
        lambda linking, flow_id: linking.choose_profile(flow_id, profile_id),
        retry="choose_profile",
        retry_args={"profile_id": profile_id},
    )
    if flow is not None:
        manager.dialog_data.pop("personal_edited", None)
        await apply_flow(manager, flow)


async def switch_account(manager: DialogManager) -> None:
    flow = await call(
        manager,
        LINK,
        lambda linking, flow_id: linking.switch_account(flow_id),
        retry="switch_account",
    )
    if flow is not None:
        for key in ("challenge", "profiles", "personal", "vk_name", "authorised"):
            manager.dialog_data.pop(key, None)
        await apply_flow(manager, flow)
        await offer_contact_button(manager)


_FIELD_WINDOWS = {"full_name": Link.full_name, "birth_date": Link.birth_date, "gender": Link.gender}


async def submit_personal_data(manager: DialogManager) -> None:
    personal = manager.dialog_data.get("personal") or {}
    flow = await step(
        manager,
        LINK,
        lambda linking, flow_id: linking.submit_personal_data(
            flow_id,
            full_name=personal["full_name"],
            birth_date=date.fromisoformat(personal["birth_date"]),
            gender=personal["gender"],
        ),
        retry="personal_data",
    )
    notice = take_notice(manager) if flow is None else None
    if notice is None:
        return
    rejected = notice.get("fields") if notice.get("code") == "invalid_personal_data" else None
    # Back to the first field the backend rejected; the notice says why.
    window = next((w for field, w in _FIELD_WINDOWS.items() if field in (rejected or {})), None)
    if window is not None:
        manager.dialog_data["editing"] = True
        await manager.switch_to(window)
    put_notice(manager, notice)


async def give_consent(manager: DialogManager, link: bool) -> None:
    flow = await step(
        manager,
        LINK,
        lambda linking, flow_id: linking.give_consent(flow_id, link=link),
        retry="consent",
        retry_args={"link": link},
    )
    if flow is None or flow.state is not FlowState.LINKED:
        return
    sessions = sessions_of(manager)
    if sessions is None:
        return
    try:
        await sessions.record_event(user_id_of(manager), EventKind.LINKED)
    except Exception:
        logger.exception("could not record the link")
