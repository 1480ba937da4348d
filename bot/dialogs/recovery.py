"""Scenario C: VK ID password recovery, as in the seed's «Восстановление пароля от VK ID».

phone → SMS code → «Это ваш аккаунт?» → method (code-generator app / e-mail / trusted friends) →
code from the app or the e-mail, or one code from each trusted friend (she asks them outside VK)
→ new password (straight after «Это ваш аккаунт?» for a VK ID with nothing but its phone) →
«Повторите новый пароль» with «Выйти на всех устройствах, кроме этого» → back to the step that
sent the teacher here (`done` with {"password_changed": True}), or, when recovery was opened on
its own, a closing «Пароль изменён».

Start data: {"phone": E.164 | None, "flow_id": str | None}; with a phone the first screen is the
SMS code. Every step runs through the step toolkit (bot/dialogs/backend_step.py) with `RECOVERY`:
each answer moves the dialog to the window of the recovery's state on the backend (`_follow`), so
«Назад», stale windows and repeated taps stay in step with it; an expired recovery starts again at
the phone. Password messages are deleted, then sent on; nothing keeps them.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F
from aiogram.types import CallbackQuery, Message
from aiogram_dialog import Data, Dialog, DialogManager
from aiogram_dialog.widgets.kbd import Checkbox, ManagedCheckbox
from aiogram_dialog.widgets.text import Format

from bot.dialogs.backend_step import (
    CHALLENGE,
    Process,
    backend_wait,
    challenge_of,
    code_input,
    code_window_data,
    remember_challenge,
    step,
)
from bot.dialogs.context import linking_of, start_data_of, step_name
from bot.dialogs.inputs import any_input, password_input, phone_input
from bot.dialogs.notices import (
    clear_notice,
    notice_text,
    put_notice,
    report_refusal,
    show_hint,
    show_note,
    take_notice,
)
from bot.dialogs.progress import progress_text
from bot.dialogs.states import Handoff, Help, Link, Recovery
from bot.dialogs.step_window import step_getter, step_window
from bot.widgets.i18n import I18nConst, I18nFormat
from bot.widgets.kbd import Button
from bot.widgets.window import Window
from services.linking_client import LinkingClient, LinkingError, RecoveryState
from services.linking_client import Recovery as RecoveryView
from services.phones import mask_phone, normalize_ru_phone

logger = logging.getLogger(__name__)

LOGOUT_CHECKBOX = "logout_others"

_WINDOW_OF_STATE = {
    RecoveryState.CODE: Recovery.sms_code,
    RecoveryState.CONFIRM_ACCOUNT: Recovery.confirm_account,
    RecoveryState.METHOD: Recovery.method,
    RecoveryState.METHOD_CODE: Recovery.method_code,
    RecoveryState.FRIENDS: Recovery.friends,
    RecoveryState.NEW_PASSWORD: Recovery.new_password,
    RecoveryState.REPEAT_PASSWORD: Recovery.repeat_password,
}


# --------------------------------------------------------------------------- following the backend


async def _returns_to_link(manager: DialogManager) -> bool:
    """Whether a link step waits below (possibly under a help screen) for the new password."""
    storage = manager.storage()  # type: ignore[attr-defined]
    below = manager.current_stack().intents[:-1]
    for intent_id in reversed(below):
        context = await storage.load_context(intent_id)
        if context.state.group is Link:
            return True
    return False


async def _remember(manager: DialogManager, recovery: RecoveryView) -> None:
    """Keep what the windows show (masked values only)."""
    data = manager.dialog_data
    data["recovery_id"] = recovery.recovery_id
    data["phone_masked"] = recovery.phone_masked
    if recovery.account is not None:
        data["masked_name"] = recovery.account.masked_name
    data["methods"] = list(recovery.methods)
    data["email_masked"] = recovery.email_masked
    data["friends"] = [{"name": f.name, "confirmed": f.confirmed} for f in recovery.friends]
    await remember_challenge(manager, recovery.challenge)


def _forget_recovery(manager: DialogManager) -> None:
    for key in ("recovery_id", "masked_name", "methods", "email_masked", "friends", CHALLENGE):
        manager.dialog_data.pop(key, None)


async def _follow(manager: DialogManager, recovery: RecoveryView) -> None:
    """Move to the window of the recovery's state on the backend."""
    await _remember(manager, recovery)
    if recovery.state is RecoveryState.DONE:
        await _finish(manager)
    elif recovery.state is RecoveryState.CANCELLED:
        await _restart_at_phone(manager, "other_account")
    else:
        await manager.switch_to(_WINDOW_OF_STATE[recovery.state])


async def _finish(manager: DialogManager) -> None:
    if await _returns_to_link(manager):
        await manager.done(result={"password_changed": True})
    else:
        await manager.switch_to(Recovery.done)


async def _restart_at_phone(manager: DialogManager, note: str) -> None:
    _forget_recovery(manager)
    await manager.switch_to(Recovery.phone)
    show_note(manager, note)


async def _gone(manager: DialogManager) -> None:
    # The recovery itself is gone (its lifetime is an hour): begin again from the phone.
    await _restart_at_phone(manager, "expired")


async def _read(linking: LinkingClient, recovery_id: str) -> RecoveryView:
    return await linking.get_recovery(recovery_id)


RECOVERY = Process(id_key="recovery_id", read=_read, follow=_follow, gone=_gone)


async def _begin(manager: DialogManager, phone: str) -> None:
    """Start a recovery for `phone` (an SMS code is sent) and show the code window."""
    manager.dialog_data["phone"] = phone
    manager.dialog_data["phone_masked"] = mask_phone(phone)
    flow_id = manager.dialog_data.get("flow_id")
    clear_notice(manager)
    try:
        async with backend_wait(manager):
            recovery = await linking_of(manager).start_recovery(phone, flow_id=flow_id)
    except LinkingError as error:
        if error.code == "not_found" and flow_id:
            # The flow is gone, but the password can still be restored on its own.
            manager.dialog_data["flow_id"] = None
            await _begin(manager, phone)
            return
        await report_refusal(manager, error, retry="begin")
        return
    await _follow(manager, recovery)


# --------------------------------------------------------------------------- start and retry


async def _on_start(start_data: Data, manager: DialogManager) -> None:
    start = start_data_of(manager)
    manager.dialog_data["flow_id"] = start.get("flow_id")
    phone = normalize_ru_phone(str(start.get("phone") or ""))
    if phone is not None:  # known from the link step: straight to the SMS code
        await _begin(manager, phone)


async def _retry_begin(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    phone = manager.dialog_data.get("phone")
    if phone:
        await _begin(manager, phone)


async def _retry_again(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    show_hint(manager, args.get("hint", "code_again"))


async def _retry_resend(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await _resend(manager)


async def _retry_confirm(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await _confirm(manager, bool(args.get("confirmed")))


async def _retry_method(callback: CallbackQuery, manager: DialogManager, args: dict) -> None:
    await _choose(manager, str(args.get("method", "")))


_RETRY_ACTIONS = {
    "begin": _retry_begin,
    "again": _retry_again,
    "resend": _retry_resend,
    "confirm": _retry_confirm,
    "method": _retry_method,
}


# --------------------------------------------------------------------------- phone and codes


async def _on_phone(message: Message, manager: DialogManager, phone: str) -> None:
    await _begin(manager, phone)


async def _resend(manager: DialogManager) -> None:
    channel = challenge_of(manager).get("channel")
    recovery = await step(
        manager,
        RECOVERY,
        lambda c, r: (
            c.resend_method_code(r)
            if channel == "email"
            else c.resend_friend_codes(r)
            if channel == "friend"
            else c.resend_recovery_code(r)
        ),
        retry="resend",
    )
    if recovery is not None:
        show_note(
            manager,
            {"email": "email_sent", "friend": "friends_sent"}.get(channel or "", "sms_sent"),
        )


async def _on_resend(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await _resend(manager)


async def _on_code(manager: DialogManager, code: str) -> None:
    state = manager.current_context().state
    if state == Recovery.sms_code:
        await step(manager, RECOVERY, lambda c, r: c.verify_recovery_code(r, code), retry="again")
    elif state == Recovery.friends:
        await step(manager, RECOVERY, lambda c, r: c.verify_friend_code(r, code), retry="again")
    else:
        await step(manager, RECOVERY, lambda c, r: c.verify_method_code(r, code), retry="again")


# --------------------------------------------------------------------------- account and method


async def _confirm(manager: DialogManager, confirmed: bool) -> None:
    await step(
        manager,
        RECOVERY,
        lambda c, r: c.confirm_recovery_account(r, confirmed=confirmed),
        retry="confirm",
        retry_args={"confirmed": confirmed},
    )


async def _on_its_me(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await _confirm(manager, True)


async def _on_not_me(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await _confirm(manager, False)


async def _choose(manager: DialogManager, method: str) -> None:
    if method not in ("totp", "email", "friends"):
        return
    recovery = await step(
        manager,
        RECOVERY,
        lambda c, r: c.choose_recovery_method(r, method),  # type: ignore[arg-type]
        retry="method",
        retry_args={"method": method},
    )
    if recovery is not None:
        manager.dialog_data["method"] = method


def _method_button(method: str) -> Callable[[CallbackQuery, Any, DialogManager], Awaitable]:
    async def on_click(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
        await _choose(manager, method)

    return on_click


async def _other_method(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.switch_to(Recovery.method)


async def _no_email_access(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.start(
        Help.topic,
        data={"step": step_name(manager), "scenario": "recovery", "topic": "no_email_access"},
    )


async def _call_specialist(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.start(Handoff.chatting, data={"reason": "help", "step": step_name(manager)})


async def _no_access(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Я не помню данные или к ним нет доступа»: VK ID's own answer is its support; here, ours."""
    await manager.start(Handoff.chatting, data={"reason": "no_access", "step": step_name(manager)})


# --------------------------------------------------------------------------- new password


async def _on_new_password(message: Message, manager: DialogManager, password: str) -> None:
    await step(
        manager,
        RECOVERY,
        lambda c, r: c.propose_new_password(r, password),
        retry="again",
        retry_args={"hint": "password_again"},
    )


async def _on_repeat_password(message: Message, manager: DialogManager, password: str) -> None:
    checkbox: ManagedCheckbox = manager.find(LOGOUT_CHECKBOX)  # type: ignore[assignment]
    logout = checkbox.is_checked()
    recovery = await step(
        manager,
        RECOVERY,
        lambda c, r: c.confirm_new_password(r, password, logout_other_sessions=logout),
        retry="again",
        retry_args={"hint": "password_again"},
    )
    if recovery is not None:
        return
    notice = take_notice(manager)
    if notice is not None and notice.get("code") == "password_mismatch":
        await manager.switch_to(Recovery.new_password)  # the notice says why
    if notice is not None:
        put_notice(manager, notice)


async def _on_done(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.done(result={"password_changed": True})


# --------------------------------------------------------------------------- windows


async def _window_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    methods = data.get("methods") or []
    friends = data.get("friends") or []
    waiting = [f["name"] for f in friends if not f["confirmed"]]
    return {
        **code_window_data(dialog_manager),
        "friends_list": "\n".join(
            ("✅ " if f["confirmed"] else "⏳ ") + html.escape(f["name"]) for f in friends
        ),
        "next_friend": html.escape(waiting[0]) if waiting else "",
        "phone_masked": html.escape(data.get("phone_masked") or ""),
        "masked_name": html.escape(data.get("masked_name") or ""),
        "email_masked": html.escape(data.get("email_masked") or ""),
        "has_totp": "totp" in methods,
        "has_email": "email" in methods,
        "has_friends": "friends" in methods,
        "has_other_methods": len(methods) > 1,
    }


def _step(*widgets: Any, state: Any) -> Window:
    return step_window(*widgets, state=state, retries=_RETRY_ACTIONS, getter=_window_getter)


def _phone_window() -> Window:
    return _step(
        I18nConst("🔑 <b>Restoring the VK ID password</b> («Забыли или не установили пароль?»)"),
        I18nConst(
            "Write the phone number you gave when registering VK ID, for example "
            "8 916 123-45-67. I will ask VK ID to send an SMS with a code to it."
        ),
        Button(
            I18nConst("I don't remember the details or can't access them"),
            id="no_access",
            on_click=_no_access,
        ),
        phone_input(_on_phone),
        state=Recovery.phone,
    )


def _sms_code_window() -> Window:
    return _step(
        I18nConst("✉️ <b>The code from the SMS</b> («Введите код»)"),
        I18nFormat("An SMS with the code has been sent to the phone {phone_masked}."),
        I18nFormat("Send the {code_length} digits from the SMS here."),
        Button(
            I18nFormat("Send the SMS in {wait_clock}"),
            id="resend_wait",
            on_click=_on_resend,
            when="must_wait",
        ),
        Button(
            I18nConst("Send the SMS again"), id="resend", on_click=_on_resend, when="can_resend"
        ),
        code_input(_on_code),
        state=Recovery.sms_code,
    )


def _confirm_window() -> Window:
    return _step(
        I18nConst("👤 <b>Is this your account?</b> («Это ваш аккаунт?»)"),
        Format("<b>{masked_name}</b>"),
        I18nConst("Check that this is the account whose password you want to restore."),
        Button(I18nConst("Yes, it's me"), id="its_me", on_click=_on_its_me),
        Button(I18nConst("No, another account"), id="not_me", on_click=_on_not_me),
        state=Recovery.confirm_account,
    )


def _method_window() -> Window:
    return _step(
        I18nConst(
            "🛡 <b>How do you want to confirm that the account is yours?</b> («Как вы хотите "
            "подтвердить, что аккаунт принадлежит вам?»)"
        ),
        I18nConst(
            "• <b>With a code-generator app</b>: you will need to enter a code from the app.",
            when="has_totp",
        ),
        I18nFormat("• <b>By e-mail</b>: we will send a code to {email_masked}.", when="has_email"),
        I18nConst(
            "• <b>With friends you trust</b>: if you can reach your friends outside VK — for "
            "example, call them or write in a messenger.",
            when="has_friends",
        ),
        Button(
            I18nConst("With a code-generator app"),
            id="method_totp",
            on_click=_method_button("totp"),
            when="has_totp",
        ),
        Button(
            I18nConst("By e-mail"),
            id="method_email",
            on_click=_method_button("email"),
            when="has_email",
        ),
        Button(
            I18nConst("With friends you trust"),
            id="method_friends",
            on_click=_method_button("friends"),
            when="has_friends",
        ),
        state=Recovery.method,
    )


def _method_code_window() -> Window:
    return _step(
        I18nConst("📧 <b>The code from the e-mail</b> («Введите код из письма»)", when="by_email"),
        I18nConst("🔢 <b>The code from the code-generator app</b>", when="by_app"),
        I18nFormat("We have sent the code to {email_masked}.", when="by_email"),
        I18nFormat("Open the app and send the {code_length} digits it shows now.", when="by_app"),
        I18nFormat("Send the {code_length} digits from the e-mail here.", when="by_email"),
        Button(
            I18nFormat("Send the code again in {wait_clock}"),
            id="email_resend_wait",
            on_click=_on_resend,
            when=F["by_email"] & F["must_wait"],
        ),
        Button(
            I18nConst("Send the code again"),
            id="email_resend",
            on_click=_on_resend,
            when=F["by_email"] & F["can_resend"],
        ),
        Button(
            I18nConst("I have no access to the e-mail"),
            id="no_email",
            on_click=_no_email_access,
            when="by_email",
        ),
        Button(
            I18nConst("Choose another way"),
            id="other_method",
            on_click=_other_method,
            when="has_other_methods",
        ),
        code_input(_on_code),
        state=Recovery.method_code,
    )


def _friends_window() -> Window:
    return _step(
        I18nConst("🤝 <b>With friends you trust</b>"),
        I18nConst(
            "VK ID has sent a code to each of your friends below. Reach them outside VK — call "
            "them or write in another messenger — and ask them to tell you the code from the "
            "message."
        ),
        Format("{friends_list}"),
        I18nFormat("Write the code <b>{next_friend}</b> got.", when="next_friend"),
        Button(
            I18nFormat("Send the codes again in {wait_clock}"),
            id="friends_resend_wait",
            on_click=_on_resend,
            when="must_wait",
        ),
        Button(
            I18nConst("Send the codes again"),
            id="friends_resend",
            on_click=_on_resend,
            when="can_resend",
        ),
        Button(I18nConst("🙋 Call a specialist"), id="friends_human", on_click=_call_specialist),
        Button(
            I18nConst("Choose another way"),
            id="friends_other",
            on_click=_other_method,
            when="has_other_methods",
        ),
        code_input(_on_code),
        state=Recovery.friends,
    )


def _new_password_window() -> Window:
    return _step(
        I18nConst("🔒 <b>Create a new password</b> («Придумайте новый пароль»)"),
        I18nConst(
            "At least 8 characters — capital and small letters, digits and special characters "
            "(! \" # $ % ' ( ) *)."
        ),
        I18nConst(
            "You can also use the password your device suggests (a password manager in the "
            "phone or the browser): copy it here and keep it saved there."
        ),
        I18nConst(
            "Write the new password as a message. I will delete it from the chat right away and "
            "will not keep it."
        ),
        password_input("new_password", _on_new_password),
        state=Recovery.new_password,
    )


def _repeat_password_window() -> Window:
    return _step(
        I18nConst("🔒 <b>Repeat the new password</b> («Повторите новый пароль»)"),
        I18nConst(
            "First, if you want to sign out of VK ID on your other phones and computers, tick "
            "«Sign out on all devices except this one» below. Then write the same password once "
            "more: it finishes the recovery."
        ),
        Checkbox(
            I18nConst("☑️ Sign out on all devices except this one"),
            I18nConst("⬜️ Sign out on all devices except this one"),
            id=LOGOUT_CHECKBOX,
            default=False,
        ),
        password_input("repeat_password", _on_repeat_password),
        state=Recovery.repeat_password,
    )


def _done_window() -> Window:
    return Window(
        progress_text(),
        I18nConst("✅ <b>Password changed</b> («Пароль изменён»)"),
        I18nConst(
            "Sign in to VK ID with the new password from now on. To link your e-journal account, "
            "open the assistant from the e-journal: the messenger icon → «Перейти к подключению»."
        ),
        notice_text(),
        Button(I18nConst("Done"), id="done", on_click=_on_done),
        any_input(),
        state=Recovery.done,
        getter=_window_getter,
    )


def create_recovery_dialog() -> Dialog:
    return Dialog(
        _phone_window(),
        _sms_code_window(),
        _confirm_window(),
        _method_window(),
        _method_code_window(),
        _friends_window(),
        _new_password_window(),
        _repeat_password_window(),
        _done_window(),
        getter=step_getter,
        on_start=_on_start,
    )
