"""The Link dialog: scenarios A (new profile), B (existing profile) and registration.

Windows follow the seed's steps and quote its buttons; which window comes next is decided by the
backend's answer (bot/dialogs/link_flow.py). Passwords are deleted from the chat, then sent on;
they are never kept in dialog data or logs (bot/dialogs/inputs.py).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from datetime import date
from functools import lru_cache
from typing import Any

from aiogram import F
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import Data, Dialog, DialogManager
from aiogram_dialog.api.exceptions import UnregisteredDialogError
from aiogram_dialog.widgets.kbd import Column, Row, Select
from aiogram_dialog.widgets.link_preview import LinkPreview
from aiogram_dialog.widgets.text import Format
from babel.dates import format_date

from bot.deps import deps
from bot.dialogs import link_flow as flow_ops
from bot.dialogs.backend_step import RetryAction, challenge_of, code_input, code_window_data
from bot.dialogs.context import now
from bot.dialogs.free_text import handle_free_text
from bot.dialogs.guide import start_guide
from bot.dialogs.inputs import any_input, password_input, phone_input, text_input
from bot.dialogs.notices import notice_text, show_hint
from bot.dialogs.open_ticket import contact_keyboard_shown
from bot.dialogs.parsers import InputProblem, check_birth_date, parse_date, parse_full_name
from bot.dialogs.restart import restart_linking
from bot.dialogs.states import Link, Recovery
from bot.dialogs.step_window import step_getter, step_window
from bot.intents import request_not_a_name
from bot.widgets.i18n import I18nConst, I18nFormat
from bot.widgets.kbd import Button
from bot.widgets.window import Window
from services.linking_client import FlowState

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- getters


def _format_day(iso: str | None) -> str:
    if not iso:
        return ""
    return _long_date(iso, get_i18n().current_locale)


@lru_cache(maxsize=1024)
def _long_date(iso: str, locale: str) -> str:
    """«16 апреля 1980 г.»: babel's formatting costs ~100 µs, and the getter asks on every
    render of the windows after the birth date (the same few dates, one per teacher)."""
    return format_date(date.fromisoformat(iso), format="long", locale=locale)


def _gender_text(gender: str | None) -> str:
    if gender == "female":
        return _("female")
    if gender == "male":
        return _("male")
    return ""


def _journal_name(data: dict[str, Any]) -> str:
    """The e-journal's full name, offered as one tap on the name step of a new profile."""
    if data.get("scenario") == "existing_profile":
        return ""  # B: the details come from her Sferum profile
    try:
        return parse_full_name(data.get("mesh_name") or "")
    except InputProblem:
        return ""


async def link_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    settings = deps(dialog_manager)["settings"]
    personal = data.get("personal") or {}
    linked = data.get("linked_profile") or {}
    profiles = data.get("profiles") or []
    esc = html.escape
    return {
        "mesh_name": esc(data.get("mesh_name", "")),
        "school": esc(data.get("school", "")),
        "phone_masked": data.get("phone_masked", ""),
        "vk_name": esc(data.get("vk_name", "")),
        "scenario_b": data.get("scenario") == "existing_profile",
        "scenario_new": data.get("scenario") != "existing_profile",
        "full_name": esc(personal.get("full_name", "")),
        "birth_date": _format_day(personal.get("birth_date")),
        "gender": _gender_text(personal.get("gender")),
        "has_gender": bool(personal.get("gender")),
        "profiles": [
            {**p, "label": esc(p["full_name"]), "school": esc(p["school"])} for p in profiles
        ],
        "one_profile": len(profiles) == 1,
        "many_profiles": len(profiles) > 1,
        "profile_name": esc(profiles[0]["full_name"]) if profiles else "",
        "profile_school": esc(profiles[0]["school"]) if profiles else "",
        "profile_birth": _format_day(profiles[0]["birth_date"]) if profiles else "",
        "linked_name": esc(linked.get("full_name", "")),
        "linked_school": esc(linked.get("school", "")),
        "cancelled": data.get("finished") == "cancelled",
        "linked": data.get("finished") == "linked",
        "terms_url": esc(settings.vk_terms_url, quote=True),
        "privacy_url": esc(settings.vk_privacy_url, quote=True),
        "name_from_journal": esc(_journal_name(data)),
    }


async def code_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return code_window_data(dialog_manager)


# --------------------------------------------------------------------------- handlers


async def on_phone(message: Message, manager: DialogManager, phone: str) -> None:
    await flow_ops.submit_phone(manager, phone)


async def on_create_profile(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.switch_to(Link.password)


async def on_password(message: Message, manager: DialogManager, password: str) -> None:
    await flow_ops.submit_password(manager, password)


async def on_forgot_password(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    data = {"phone": manager.dialog_data.get("phone"), "flow_id": manager.dialog_data["flow_id"]}
    try:
        await manager.start(Recovery.phone, data=data)
    except UnregisteredDialogError:
        show_hint(manager, "help_unavailable")


async def on_resend(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    channel = challenge_of(manager).get("channel", "call")
    await flow_ops.send_code(manager, channel)


async def on_switch_channel(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    channel = challenge_of(manager).get("channel", "call")
    await flow_ops.send_code(manager, "sms" if channel == "call" else "call")


async def on_change_number(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.switch_to(Link.phone)
    await flow_ops.offer_contact_button(manager)


async def on_profile_chosen(
    callback: CallbackQuery, widget: Any, manager: DialogManager, profile_id: str
) -> None:
    await flow_ops.choose_profile(manager, profile_id)


async def on_single_profile(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    profiles = manager.dialog_data.get("profiles") or []
    if profiles:
        await flow_ops.choose_profile(manager, profiles[0]["profile_id"])


async def on_other_account(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await flow_ops.switch_account(manager)


def _personal(manager: DialogManager) -> dict[str, Any]:
    return manager.dialog_data.setdefault("personal", {})


async def _after_field(manager: DialogManager, next_state: Any) -> None:
    manager.dialog_data["personal_edited"] = True
    if manager.dialog_data.get("editing"):
        await manager.switch_to(Link.confirm_data)
    else:
        await manager.switch_to(next_state)


async def on_full_name(message: Message, manager: DialogManager, full_name: str) -> None:
    # «начать заново» is three Cyrillic words too: a request is acted on, not taken as a name.
    if request_not_a_name(message.text or "") and await handle_free_text(message, manager):
        return
    _personal(manager)["full_name"] = full_name
    await _after_field(manager, Link.birth_date)


async def on_name_from_journal(
    callback: CallbackQuery, button: Any, manager: DialogManager
) -> None:
    name = _journal_name(manager.dialog_data)
    if not name:  # a stale button: the scenario changed meanwhile
        return
    _personal(manager)["full_name"] = name
    await _after_field(manager, Link.birth_date)


async def on_birth_date(message: Message, manager: DialogManager, born: date) -> None:
    _personal(manager)["birth_date"] = check_birth_date(born, now(manager).date()).isoformat()
    await _after_field(manager, Link.gender)


async def on_gender(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    _personal(manager)["gender"] = "female" if button.widget_id == "gender_female" else "male"
    await _after_field(manager, Link.confirm_data)


async def on_data_confirmed(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    personal = _personal(manager)
    for field, state in (
        ("full_name", Link.full_name),
        ("birth_date", Link.birth_date),
        ("gender", Link.gender),
    ):
        if not personal.get(field):
            await manager.switch_to(state)
            return
    await flow_ops.submit_personal_data(manager)


def _edit(state: State) -> Callable[[CallbackQuery, Any, DialogManager], Awaitable[None]]:
    async def handler(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
        manager.dialog_data["editing"] = True
        await manager.switch_to(state)

    return handler


async def on_link(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await flow_ops.give_consent(manager, link=True)


async def on_cancel_link(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.switch_to(Link.cancel_confirm)


async def on_cancel_confirmed(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await flow_ops.give_consent(manager, link=False)


async def on_keep_linking(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.switch_to(Link.consent)


async def on_guide_self(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await start_guide(manager, manager.dialog_data["flow_id"])


async def on_start_over(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await restart_linking(manager)


def _after_the_end(manager: DialogManager) -> str:
    """What the closing window says to typed text: all done, or this linking is over."""
    return "all_done" if manager.dialog_data.get("finished") == "linked" else "flow_finished"


# --------------------------------------------------------------------------- retries


async def _retry_phone(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await flow_ops.submit_phone(manager, args["phone"])


async def _retry_reprompt(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    state = manager.current_context().state
    show_hint(manager, "password_again" if state == Link.password else "code_again")


async def _retry_send_code(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await flow_ops.send_code(manager, args["channel"])


async def _retry_profile(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await flow_ops.choose_profile(manager, args["profile_id"])


async def _retry_switch(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await flow_ops.switch_account(manager)


async def _retry_personal(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await flow_ops.submit_personal_data(manager)


async def _retry_consent(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await flow_ops.give_consent(manager, link=bool(args.get("link", True)))


RETRIES: dict[str, RetryAction] = {
    "phone": _retry_phone,
    "reprompt": _retry_reprompt,
    "send_code": _retry_send_code,
    "choose_profile": _retry_profile,
    "switch_account": _retry_switch,
    "personal_data": _retry_personal,
    "consent": _retry_consent,
}


# --------------------------------------------------------------------------- dialog events


async def on_start(start_data: Data, manager: DialogManager) -> None:
    data = dict(start_data) if isinstance(start_data, dict) else {}
    for key in ("flow_id", "mesh_name", "school", "branch", "scenario"):
        if data.get(key) is not None:
            manager.dialog_data[key] = data[key]
    if data.get("resync") and await flow_ops.resync(manager):
        return  # back from guide mode: at the step the window reached
    await flow_ops.offer_contact_button(manager)


async def on_process_result(start_data: Data, result: Any, manager: DialogManager) -> None:
    """Back from Recovery (or Help / Handoff) to the step that sent the teacher there."""
    if isinstance(result, dict) and result.get("password_changed"):
        await _after_new_password(manager)
    elif manager.current_context().state == Link.phone and not await contact_keyboard_shown(
        manager
    ):  # the helpdesk conversation took the keyboard away
        await flow_ops.offer_contact_button(manager)


async def _after_new_password(manager: DialogManager) -> None:
    """A recovery started here signs the flow in, as VK ID does after a reset: on to the code
    the backend has sent. Where it could not (the flow was not waiting for the password, or
    the backend is away), the password window asks for the new password as before."""
    flow = await flow_ops.read(manager)
    if flow is not None and flow.state is not FlowState.PASSWORD:
        await flow_ops.apply_flow(manager, flow)
        show_hint(manager, "password_changed_signed_in")
        return
    if manager.current_context().state != Link.password:
        await manager.switch_to(Link.password)
    show_hint(manager, "password_changed")


# --------------------------------------------------------------------------- windows


def _step(*widgets: Any, state: Any, getter: Any = None) -> Window:
    if state != Link.password:  # there: «Не хочу вводить пароль в чат», same way
        widgets = (*widgets, _guide_button())
    return step_window(*widgets, state=state, retries=RETRIES, getter=getter)


def _guide_button() -> Button:
    """At any step: go on in the e-journal's own window, with me following (guide mode)."""
    return Button(
        I18nConst("🖥 I will do it myself in the e-journal"), id="guide_self", on_click=on_guide_self
    )


def create_link_dialog() -> Dialog:
    return Dialog(
        _step(
            I18nConst(
                "<b>Phone number</b>\n"
                "Write the mobile number you use (or will use) for VK ID — the same as in the "
                "window «Вход в VK ID». Any form will do: 8 916 123-45-67 or +7 (916) 123-45-67."
            ),
            I18nConst(
                "<b>VK ID</b> is the sign-in Sferum uses to check that it is you. You do not "
                "need to register on VKontakte, and if you already have an account there, nobody "
                "will see it: your personal profile is not shown anywhere."
            ),
            I18nFormat(
                "<i>By sending the number you accept the VK ID "
                '<a href="{terms_url}">user agreement</a> and '
                '<a href="{privacy_url}">privacy policy</a>, as with «Продолжить» in the VK ID '
                "window.</i>"
            ),
            LinkPreview(is_disabled=True),
            phone_input(on_phone),
            state=Link.phone,
        ),
        _step(
            I18nFormat(
                "<b>Check the account</b>\n"
                "VK ID: {vk_name}, phone {phone_masked}\n"
                "E-journal: {mesh_name}, {school}\n\n"
                "There is no Sferum study profile on this number yet — we will create one. If the "
                "details are right, press «Create a study profile»."
            ),
            Button(
                I18nConst("Create a study profile («Создать учебный профиль»)"),
                id="create_profile",
                on_click=on_create_profile,
            ),
            state=Link.account_card,
        ),
        _step(
            I18nFormat(
                "<b>VK ID password</b>\n"
                "Send your VK ID password for {phone_masked} as a message. I will delete the "
                "message right away and will not keep the password."
            ),
            Button(
                I18nConst("Forgot or never set a password? («Забыли или не установили пароль?»)"),
                id="forgot",
                on_click=on_forgot_password,
            ),
            Button(
                I18nConst("🔒 I don't want to type the password in the chat"),
                id="guide_password",
                on_click=on_guide_self,
            ),
            password_input("password", on_password),
            state=Link.password,
        ),
        _step(
            I18nFormat(
                "<b>Confirm the sign-in</b> («Подтвердите вход»)\n"
                "A reset call from a unique number will come to {sent_to}; you do not need to "
                "answer it. Write the <b>last 4 digits of the number that called you</b>.",
                when="by_call",
            ),
            I18nFormat(
                "<b>Confirm the sign-in</b> («Подтвердите вход»)\n"
                "An SMS with a {code_length}-digit code has been sent to {sent_to}. Write the "
                "code here.",
                when="by_sms",
            ),
            I18nFormat(
                "⏳ The call will come within {wait_clock}.", when=F["by_call"] & F["must_wait"]
            ),
            I18nFormat(
                "⏳ The SMS will come within {wait_clock}.", when=F["by_sms"] & F["must_wait"]
            ),
            I18nConst(
                "No call? Ask for the code again, or get it by SMS.",
                when=F["by_call"] & F["can_resend"],
            ),
            I18nConst(
                "No SMS? Ask for the code again, or get it by a call.",
                when=F["by_sms"] & F["can_resend"],
            ),
            I18nConst("If the number is wrong, change it and ask for the code again."),
            Button(
                I18nConst("Ask for the code again"),
                id="resend",
                on_click=on_resend,
                when="can_resend",
            ),
            Button(
                I18nConst("Get the code by SMS"),
                id="to_sms",
                on_click=on_switch_channel,
                when=F["by_call"] & F["can_resend"],
            ),
            Button(
                I18nConst("Get the code by a call"),
                id="to_call",
                on_click=on_switch_channel,
                when=F["by_sms"] & F["can_resend"],
            ),
            Button(I18nConst("Change the number"), id="change_number", on_click=on_change_number),
            code_input(flow_ops.verify_code),
            state=Link.code,
            getter=code_getter,
        ),
        _step(
            I18nFormat(
                "<b>Your profile for linking</b> («Ваш профиль для связки»)\n"
                "{profile_name}\n{profile_school}\n{profile_birth}",
                when="one_profile",
            ),
            I18nConst(
                "<b>Your profile for linking</b> («Ваш профиль для связки»)\n"
                "Choose the study profile to link:",
                when="many_profiles",
            ),
            Button(
                I18nConst("Continue («Продолжить»)"),
                id="profile_ok",
                on_click=on_single_profile,
                when="one_profile",
            ),
            Column(
                Select(
                    Format("{item[label]}"),
                    id="profile",
                    item_id_getter=lambda item: item["profile_id"],
                    items="profiles",
                    on_click=on_profile_chosen,
                ),
                when="many_profiles",
            ),
            Button(
                I18nConst("Sign in to another account («Войти в другой аккаунт»)"),
                id="other_account",
                on_click=on_other_account,
            ),
            state=Link.choose_profile,
        ),
        _step(
            I18nConst(
                "<b>About you</b>\nWrite your real full name in Russian letters: surname, first "
                "name and, if you have one, patronymic. For example: Иванова Мария Петровна."
            ),
            Button(
                I18nFormat("Yes, it's me: {name_from_journal}"),
                id="name_from_journal",
                on_click=on_name_from_journal,
                when="name_from_journal",
            ),
            text_input("full_name", parse_full_name, on_full_name),
            state=Link.full_name,
        ),
        _step(
            I18nConst(
                "<b>About you</b>\nSend your date of birth, for example 14.03.1985 or "
                "«14 марта 1985»."
            ),
            text_input("birth_date", parse_date, on_birth_date),
            state=Link.birth_date,
        ),
        _step(
            I18nConst("<b>About you</b>\nChoose your gender:"),
            Row(
                Button(I18nConst("Female"), id="gender_female", on_click=on_gender),
                Button(I18nConst("Male"), id="gender_male", on_click=on_gender),
            ),
            state=Link.gender,
        ),
        _step(
            I18nConst("<b>Check your details</b>", when="scenario_new"),
            I18nConst(
                "<b>Check your details</b> — they come from your Sferum profile:",
                when="scenario_b",
            ),
            I18nFormat("Full name: {full_name}\nDate of birth: {birth_date}\nGender: {gender}"),
            I18nConst(
                "Your study profile will be created with these details.", when="scenario_new"
            ),
            Button(I18nConst("All correct, continue"), id="data_ok", on_click=on_data_confirmed),
            Row(
                Button(I18nConst("Edit name"), id="edit_name", on_click=_edit(Link.full_name)),
                Button(I18nConst("Edit date"), id="edit_date", on_click=_edit(Link.birth_date)),
                Button(I18nConst("Edit gender"), id="edit_gender", on_click=_edit(Link.gender)),
            ),
            state=Link.confirm_data,
        ),
        _step(
            I18nFormat(
                "<b>Adding a Sferum profile</b> («Добавление профиля Сферум»)\n"
                "Do you really want to link the Sferum account to your e-journal account?\n\n"
                "E-journal (МЭШ): {mesh_name}, {school}\n"
                "⇅\n"
                "Sferum profile: {full_name}"
            ),
            I18nConst("(a new study profile will be created)", when="scenario_new"),
            Row(
                Button(
                    I18nConst("Cancel («Отмена»)"), id="consent_cancel", on_click=on_cancel_link
                ),
                Button(I18nConst("Link («Привязать»)"), id="consent_link", on_click=on_link),
            ),
            state=Link.consent,
        ),
        _step(
            I18nConst(
                "<b>Cancel the linking?</b>\n"
                "Nothing will be linked. When you want to link later, press «Start over» "
                "right here in this chat."
            ),
            Row(
                Button(
                    I18nConst("Yes, cancel the linking"),
                    id="cancel_yes",
                    on_click=on_cancel_confirmed,
                ),
                Button(I18nConst("No, back to linking"), id="cancel_no", on_click=on_keep_linking),
            ),
            state=Link.cancel_confirm,
        ),
        Window(
            I18nFormat(
                "🎉 <b>Done!</b> Your Sferum study profile in VK Messenger is linked to your "
                "e-journal account.\n\n"
                "Study profile: {linked_name}, {linked_school}\n\n"
                "<b>What next</b>\n"
                "1. Open VK Messenger: the app on your phone or web.vk.me in the browser.\n"
                "2. Sign in with VK ID using the number {phone_masked}.\n"
                "3. Your school's chats and video lessons are in the «Сферум» section.\n\n"
                "In the e-journal, the messenger icon now opens your chats too.",
                when=F["linked"] & F["linked_name"],
            ),
            # Shown again after her details were forgotten (bot/dialogs/forget.py).
            I18nConst(
                "🎉 <b>Done!</b> Your Sferum study profile in VK Messenger is linked to your "
                "e-journal account.\n\n"
                "<b>What next</b>\n"
                "1. Open VK Messenger: the app on your phone or web.vk.me in the browser.\n"
                "2. Sign in with VK ID using your phone number.\n"
                "3. Your school's chats and video lessons are in the «Сферум» section.\n\n"
                "In the e-journal, the messenger icon now opens your chats too.",
                when=F["linked"] & ~F["linked_name"],
            ),
            I18nConst(
                "Linking cancelled: nothing was linked. When you are ready, press «Start over»: "
                "we will go through it again here, in this chat.",
                when="cancelled",
            ),
            notice_text(),
            Button(
                I18nConst("Start over"), id="start_over", on_click=on_start_over, when="cancelled"
            ),
            any_input(_after_the_end),
            state=Link.done,
        ),
        getter=[step_getter, link_getter],
        on_start=on_start,
        on_process_result=on_process_result,
    )
