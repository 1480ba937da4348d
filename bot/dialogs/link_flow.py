"""The Link dialog's side effects: calls to the backend and the window each answer leads to.

Handlers stay thin: they parse, call one backend operation through `call_backend`, and let
`apply_flow` pick the window from the backend's answer (never from the teacher's guess).

Resynchronisation lives in `call_backend` too: when the backend is already past the step the
window stands for — an update delivered again after the bot died mid-step (its effect happened,
its reply never went out), or a tap on an old window — the bot reads the flow and shows the window
of the backend's state, with «Продолжим с того места…» rather than an error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from aiogram.types import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager, ShowMode

from bot.dialogs.common import (
    clear_notice,
    now,
    report_refusal,
    show_hint,
    user_id_of,
    utc_in,
)
from bot.dialogs.states import Link
from services.linking_client import (
    Flow,
    FlowState,
    LinkingClient,
    LinkingError,
    Profile,
    WrongState,
)
from services.phones import mask_phone
from services.storage.link_sessions import EventKind, LinkSessionRepository

logger = logging.getLogger(__name__)

T = TypeVar("T")


def linking_of(manager: DialogManager) -> LinkingClient:
    return manager.middleware_data["linking"]


def sessions_of(manager: DialogManager) -> LinkSessionRepository:
    return manager.middleware_data["sessions"]


def flow_id_of(manager: DialogManager) -> str:
    return manager.dialog_data["flow_id"]


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    return {
        "profile_id": profile.profile_id,
        "full_name": profile.full_name,
        "birth_date": profile.birth_date.isoformat(),
        "gender": profile.gender,
        "school": profile.school,
    }


async def call_backend(
    manager: DialogManager,
    call: Callable[[LinkingClient], Awaitable[T]],
    *,
    retry: str | None = None,
    retry_args: dict[str, Any] | None = None,
) -> T | None:
    """Run one backend call; on a refusal show it (or re-sync when the backend is ahead)."""
    clear_notice(manager)
    try:
        return await call(linking_of(manager))
    except WrongState:
        await resync(manager)
    except LinkingError as error:
        # A repeated phone while the code is already on its way is refused as «too early»:
        # the backend is ahead of this window, so follow it instead of showing a refusal.
        if error.code not in _MAYBE_AHEAD or not await resync(manager, only_if_ahead=True):
            await report_refusal(manager, error, retry=retry, retry_args=retry_args)
    return None


async def advance(
    manager: DialogManager,
    call: Callable[[LinkingClient], Awaitable[Flow]],
    *,
    retry: str | None = None,
    retry_args: dict[str, Any] | None = None,
) -> Flow | None:
    """`call_backend` for a flow step, then show the window of the state it answered."""
    flow = await call_backend(manager, call, retry=retry, retry_args=retry_args)
    if flow is not None:
        await apply_flow(manager, flow)
    return flow


_MAYBE_AHEAD = frozenset({"resend_too_early"})

# The backend state each window stands for (Link.done stands for linked and cancelled).
_WINDOW_STATE = {
    Link.phone: FlowState.PHONE,
    Link.account_card: FlowState.PASSWORD,
    Link.password: FlowState.PASSWORD,
    Link.code: FlowState.CODE,
    Link.choose_profile: FlowState.PROFILE,
    Link.full_name: FlowState.PERSONAL_DATA,
    Link.birth_date: FlowState.PERSONAL_DATA,
    Link.gender: FlowState.PERSONAL_DATA,
    Link.confirm_data: FlowState.PERSONAL_DATA,
    Link.consent: FlowState.CONSENT,
}


async def resync(manager: DialogManager, *, only_if_ahead: bool = False) -> bool:
    """Show the window of the step the backend is really at; True if it moved the teacher.

    With `only_if_ahead`, nothing changes while the window already matches the backend's state.
    A failed read leaves the window as it is, with the reason.
    """
    try:
        flow = await linking_of(manager).get_flow(flow_id_of(manager))
    except LinkingError as error:
        if not only_if_ahead:
            await report_refusal(manager, error)
        return False
    if only_if_ahead and _WINDOW_STATE.get(manager.current_context().state) is flow.state:
        return False
    logger.info("backend ahead of the window: showing its state %s", flow.state.value)
    await apply_flow(manager, flow)
    if flow.state not in (FlowState.LINKED, FlowState.CANCELLED):  # the result says it all
        show_hint(manager, "resumed")
    return True


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


async def _remember_challenge(manager: DialogManager, flow: Flow) -> None:
    challenge = flow.challenge
    if challenge is None:
        return
    known = manager.dialog_data.get("challenge") or {}
    at = now(manager)
    manager.dialog_data["challenge"] = {
        "id": challenge.challenge_id,
        "channel": challenge.channel,
        "code_length": challenge.code_length,
        "sent_to": challenge.sent_to,
        # Counted on the bot's clock from the server's relative figure, so that a clock
        # difference between bot and backend never shows a wrong countdown.
        "resend_at": known.get("resend_at")
        if known.get("id") == challenge.challenge_id
        else utc_in(challenge.resend_after, at),
        "attempts_left": challenge.attempts_left,
    }
    if known.get("id") != challenge.challenge_id:
        try:
            await sessions_of(manager).code_requested(user_id_of(manager))
        except Exception:
            logger.exception("could not count a code")


async def apply_flow(manager: DialogManager, flow: Flow, *, after_phone: bool = False) -> None:
    """Store what the backend said and switch to the window of the flow's state."""
    _remember_flow(manager, flow)
    await _remember_challenge(manager, flow)
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


async def offer_contact_button(manager: DialogManager) -> None:
    """A reply keyboard with «📱 Отправить мой номер» under the phone step."""
    markup = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📱 Send my number"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder="+7 916 123-45-67",
    )
    chat_id = manager.event.from_user.id  # type: ignore[union-attr]
    bot = manager.middleware_data["bot"]
    await bot.send_message(
        chat_id,
        _("You can type the number or just press «📱 Send my number» below."),
        reply_markup=markup,
    )
    manager.show_mode = ShowMode.SEND


async def acknowledge_phone(manager: DialogManager, phone_masked: str) -> None:
    """Take the contact keyboard away, saying which number was taken (masked)."""
    bot = manager.middleware_data["bot"]
    chat_id = manager.event.from_user.id  # type: ignore[union-attr]
    await bot.send_message(
        chat_id,
        _("Number {phone} received.").format(phone=phone_masked),
        reply_markup=ReplyKeyboardRemove(),
    )
    manager.show_mode = ShowMode.SEND


# --------------------------------------------------------------------------- operations


async def submit_phone(manager: DialogManager, phone: str) -> None:
    """Give the phone; the backend decides A, B or registration."""
    flow_id = flow_id_of(manager)
    manager.dialog_data["phone"] = phone
    manager.dialog_data["phone_masked"] = mask_phone(phone)
    logger.info("phone %s submitted", mask_phone(phone))
    flow = await call_backend(
        manager,
        lambda linking: linking.submit_phone(flow_id, phone),
        retry="phone",
        retry_args={"phone": phone},
    )
    if flow is None:
        return
    await acknowledge_phone(manager, flow.phone_masked or mask_phone(phone))
    manager.dialog_data.pop("challenge", None)
    manager.dialog_data.pop("personal", None)
    manager.dialog_data.pop("personal_edited", None)
    await apply_flow(manager, flow, after_phone=True)
    branch = manager.dialog_data.get("branch")
    scenario = flow.scenario.value if flow.scenario else None
    if branch == "no" and scenario == "existing_profile":
        show_hint(manager, "profile_exists")
    elif branch == "yes" and scenario in ("new_profile", "registration"):
        show_hint(manager, "no_profile_found")


async def submit_password(manager: DialogManager, password: str) -> None:
    flow_id = flow_id_of(manager)
    await advance(
        manager, lambda linking: linking.submit_password(flow_id, password), retry="reprompt"
    )


async def send_code(manager: DialogManager, channel: str) -> None:
    flow_id = flow_id_of(manager)
    await advance(
        manager,
        lambda linking: linking.send_code(flow_id, channel),  # type: ignore[arg-type]
        retry="send_code",
        retry_args={"channel": channel},
    )


async def verify_code(manager: DialogManager, code: str) -> None:
    flow_id = flow_id_of(manager)
    await advance(manager, lambda linking: linking.verify_code(flow_id, code), retry="reprompt")


async def choose_profile(manager: DialogManager, profile_id: str) -> None:
    flow_id = flow_id_of(manager)
    flow = await call_backend(
        manager,
        lambda linking: linking.choose_profile(flow_id, profile_id),
        retry="choose_profile",
        retry_args={"profile_id": profile_id},
    )
    if flow is not None:
        manager.dialog_data.pop("personal_edited", None)
        await apply_flow(manager, flow)


async def switch_account(manager: DialogManager) -> None:
    flow_id = flow_id_of(manager)
    flow = await call_backend(
        manager, lambda linking: linking.switch_account(flow_id), retry="switch_account"
    )
    if flow is not None:
        for key in ("challenge", "profiles", "personal", "vk_name", "authorised"):
            manager.dialog_data.pop(key, None)
        await apply_flow(manager, flow)
        await offer_contact_button(manager)


_FIELD_WINDOWS = {"full_name": Link.full_name, "birth_date": Link.birth_date, "gender": Link.gender}


async def submit_personal_data(manager: DialogManager) -> None:
    flow_id = flow_id_of(manager)
    personal = manager.dialog_data.get("personal") or {}
    flow = await advance(
        manager,
        lambda linking: linking.submit_personal_data(
            flow_id,
            full_name=personal["full_name"],
            birth_date=date.fromisoformat(personal["birth_date"]),
            gender=personal["gender"],
        ),
        retry="personal_data",
    )
    if flow is not None:
        return
    notice = manager.dialog_data.get("_notice") or {}
    if notice.get("code") == "invalid_personal_data":
        # Back to the first field the backend rejected; the notice says why.
        for field, window in _FIELD_WINDOWS.items():
            if field in (notice.get("fields") or {}):
                manager.dialog_data["editing"] = True
                await manager.switch_to(window)
                manager.dialog_data["_notice"] = notice
                return


async def give_consent(manager: DialogManager, link: bool) -> None:
    flow_id = flow_id_of(manager)
    flow = await advance(
        manager,
        lambda linking: linking.give_consent(flow_id, link=link),
        retry="consent",
        retry_args={"link": link},
    )
    if flow is not None and flow.state is FlowState.LINKED:
        try:
            await sessions_of(manager).record_event(user_id_of(manager), EventKind.LINKED)
        except Exception:
            logger.exception("could not record the link")
