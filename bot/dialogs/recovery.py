"""Scenario C: VK ID password recovery, as in the seed's «Восстановление пароля от VK ID».

phone → SMS code → «Это ваш аккаунт?» → method (code-generator app / e-mail / trusted friends) →
code from the app or the e-mail → new password → «Повторите новый пароль» with «Выйти на всех
устройствах, кроме этого» → back to the step that sent the teacher here (`done` with
{"password_changed": True}), or, when recovery was opened on its own, a closing «Пароль изменён».

Start data: {"phone": E.164 | None, "flow_id": str | None}; with a phone the first screen is the
SMS code. Every backend answer goes through `_follow`, which moves the dialog to the window of the
recovery's state on the backend, so «Назад», stale windows and repeated taps stay in step with it.
Passwords are read from the message, sent on, and the message is deleted; nothing keeps them.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import F
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ContentType, Message
from aiogram.utils.i18n import lazy_gettext as __
from aiogram_dialog import Data, Dialog, DialogManager, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Checkbox, ManagedCheckbox
from aiogram_dialog.widgets.text import Format

from bot.dialogs.common import (
    clear_notice,
    format_clock,
    nav_row,
    notice_text,
    now,
    progress_getter,
    progress_text,
    report_refusal,
    retry_buttons,
    show_hint,
    step_name,
    user_id_of,
)
from bot.dialogs.free_text import handle_free_text
from bot.dialogs.states import Handoff, Help, Link, Recovery
from bot.widgets.i18n import I18nConst, I18nFormat
from services.linking_client import (
    LinkingClient,
    LinkingError,
    RecoveryState,
)
from services.linking_client import Recovery as RecoveryView
from services.phones import mask_phone, normalize_ru_phone

logger = logging.getLogger(__name__)

LOGOUT_CHECKBOX = "logout_others"
NOTE = "note"  # this dialog's own information line (not a refusal)
_MAX_CODE_INPUT = 32

_NOTES: dict[str, Any] = {
    "other_account": __(
        "Then this phone number belongs to another VK ID account. Please send the number your "
        "VK ID is registered to."
    ),
    "expired": __("The password restore session has expired. Please send your phone number again."),
    "sms_sent": __("A new SMS has been sent."),
    "email_sent": __("A new e-mail with the code has been sent."),
    "password_hidden": __("🔒 I deleted your message with the password from the chat."),
}

_WINDOW_OF_STATE = {
    RecoveryState.CODE: Recovery.sms_code,
    RecoveryState.CONFIRM_ACCOUNT: Recovery.confirm_account,
    RecoveryState.METHOD: Recovery.method,
    RecoveryState.METHOD_CODE: Recovery.method_code,
    RecoveryState.FRIENDS: Recovery.friends,
    RecoveryState.NEW_PASSWORD: Recovery.new_password,
    RecoveryState.REPEAT_PASSWORD: Recovery.repeat_password,
}


# --------------------------------------------------------------------------- helpers


def _linking(manager: DialogManager) -> LinkingClient:
    return manager.middleware_data["linking"]


def _start(manager: DialogManager) -> dict[str, Any]:
    data = manager.start_data
    return data if isinstance(data, dict) else {}


async def _returns_to_link(manager: DialogManager) -> bool:
    """Whether a link step waits below (possibly under a help screen) for the new password."""
    storage = manager.storage()  # type: ignore[attr-defined]
    below = manager.current_stack().intents[:-1]
    for intent_id in reversed(below):
        context = await storage.load_context(intent_id)
        if context.state.group is Link:
            return True
    return False


def _set_note(manager: DialogManager, key: str | None) -> None:
    if key is None:
        manager.dialog_data.pop(NOTE, None)
    else:
        manager.dialog_data[NOTE] = key


async def _code_sent(manager: DialogManager) -> None:
    sessions = manager.middleware_data.get("sessions")
    if sessions is not None:
        try:
            await sessions.code_requested(user_id_of(manager))
        except Exception:  # the dialog must not fail because bookkeeping did
            logger.exception("could not count a code request")


async def _record_refusal_only(manager: DialogManager, code: str) -> None:
    sessions = manager.middleware_data.get("sessions")
    if sessions is not None:
        try:
            await sessions.record_refusal(user_id_of(manager), code, step_name(manager))
        except Exception:
            logger.exception("could not record a refusal")


def _remember(manager: DialogManager, recovery: RecoveryView) -> None:
    """Keep what the windows show (masked values only)."""
    data = manager.dialog_data
    data["recovery_id"] = recovery.recovery_id
    data["phone_masked"] = recovery.phone_masked
    if recovery.account is not None:
        data["masked_name"] = recovery.account.masked_name
    data["methods"] = list(recovery.methods)
    data["email_masked"] = recovery.email_masked
    challenge = recovery.challenge
    if challenge is not None:
        data["channel"] = challenge.channel
        data["code_length"] = challenge.code_length
        data["sent_to"] = challenge.sent_to
        available = challenge.resend_available_at
        data["resend_at"] = available.isoformat() if available is not None else None


async def _follow(manager: DialogManager, recovery: RecoveryView) -> None:
    """Move to the window of the recovery's state on the backend."""
    _remember(manager, recovery)
    if recovery.state is RecoveryState.DONE:
        await _finish(manager)
        return
    if recovery.state is RecoveryState.CANCELLED:
        _forget_recovery(manager)
        _set_note(manager, "other_account")
        await manager.switch_to(Recovery.phone)
        return
    await manager.switch_to(_WINDOW_OF_STATE[recovery.state])


def _forget_recovery(manager: DialogManager) -> None:
    for key in ("recovery_id", "masked_name", "methods", "email_masked", "channel", "resend_at"):
        manager.dialog_data.pop(key, None)


async def _finish(manager: DialogManager) -> None:
    clear_notice(manager)
    _set_note(manager, None)
    if await _returns_to_link(manager):
        await manager.done(result={"password_changed": True})
    else:
        await manager.switch_to(Recovery.done)


Call = Callable[[LinkingClient, str], Awaitable[RecoveryView]]


async def _call(
    manager: DialogManager,
    call: Call,
    *,
    retry: str | None = None,
    retry_args: dict[str, Any] | None = None,
) -> RecoveryView | None:
    """Run one backend call on the current recovery; refusals are shown, and None returned."""
    recovery_id = manager.dialog_data.get("recovery_id")
    if not recovery_id:
        await _restart_at_phone(manager, "expired")
        return None
    try:
        return await call(_linking(manager), recovery_id)
    except LinkingError as error:
        await _refused(manager, error, retry=retry, retry_args=retry_args)
        return None


async def _refused(
    manager: DialogManager,
    error: LinkingError,
    *,
    retry: str | None = None,
    retry_args: dict[str, Any] | None = None,
) -> None:
    if error.code in ("flow_expired", "not_found"):
        # The recovery itself is gone (its lifetime is an hour): begin again from the phone.
        await _record_refusal_only(manager, error.code)
        await _restart_at_phone(manager, "expired")
        return
    if error.code == "wrong_state":
        # A stale window or a repeated tap: show what the backend is really waiting for.
        await _record_refusal_only(manager, error.code)
        try:
            recovery = await _linking(manager).get_recovery(manager.dialog_data["recovery_id"])
        except LinkingError as reading_failed:
            await report_refusal(manager, reading_failed)
            return
        clear_notice(manager)
        await _follow(manager, recovery)
        return
    _set_note(manager, None)
    await report_refusal(manager, error, retry=retry, retry_args=retry_args)


async def _restart_at_phone(manager: DialogManager, note: str) -> None:
    _forget_recovery(manager)
    clear_notice(manager)
    _set_note(manager, note)
    await manager.switch_to(Recovery.phone)


async def _begin(manager: DialogManager, phone: str) -> None:
    """Start a recovery for `phone` (an SMS code is sent) and show the code window."""
    manager.dialog_data["phone"] = phone
    manager.dialog_data["phone_masked"] = mask_phone(phone)
    flow_id = manager.dialog_data.get("flow_id")
    try:
        recovery = await _linking(manager).start_recovery(phone, flow_id=flow_id)
    except LinkingError as error:
        if error.code == "not_found" and flow_id:
            # The flow is gone, but the password can still be restored on its own.
            manager.dialog_data["flow_id"] = None
            await _begin(manager, phone)
            return
        _set_note(manager, None)
        await report_refusal(manager, error, retry="begin")
        return
    clear_notice(manager)
    _set_note(manager, None)
    await _code_sent(manager)
    await _follow(manager, recovery)


async def _delete(message: Message) -> None:
    try:
        await message.delete()
    except TelegramAPIError:
        logger.warning("could not delete a message with a password")


def _digits(text: str | None) -> str | None:
    if not text or len(text) > _MAX_CODE_INPUT:
        return None
    digits = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    return digits if digits.isdigit() else None


# --------------------------------------------------------------------------- start and retry


async def _on_start(start_data: Data, manager: DialogManager) -> None:
    start = _start(manager)
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


# --------------------------------------------------------------------------- phone


async def _on_phone(message: Message, widget: MessageInput, manager: DialogManager) -> None:
    if message.contact is not None:
        if message.contact.user_id not in (None, message.from_user.id):  # type: ignore[union-attr]
            show_hint(manager, "foreign_contact")
            return
        phone = normalize_ru_phone(message.contact.phone_number)
    else:
        phone = normalize_ru_phone(message.text or "")
    if phone is None:
        if message.text and await handle_free_text(message, manager):
            return
        show_hint(manager, "phone_format")
        return
    await _begin(manager, phone)


# --------------------------------------------------------------------------- codes


def _seconds_until_resend(manager: DialogManager) -> int:
    resend_at = manager.dialog_data.get("resend_at")
    if not resend_at:
        return 0
    remaining = (datetime.fromisoformat(resend_at) - now(manager)).total_seconds()
    return max(0, int(remaining + 0.999))


async def _resend(manager: DialogManager) -> None:
    by_email = manager.dialog_data.get("channel") == "email"
    if by_email:
        recovery = await _call(manager, lambda c, r: c.resend_method_code(r), retry="resend")
    else:
        recovery = await _call(manager, lambda c, r: c.resend_recovery_code(r), retry="resend")
    if recovery is None:
        return
    clear_notice(manager)
    _set_note(manager, "email_sent" if by_email else "sms_sent")
    await _code_sent(manager)
    await _follow(manager, recovery)


async def _on_resend(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    await _resend(manager)


async def _on_code(message: Message, widget: MessageInput, manager: DialogManager) -> None:
    code = _digits(message.text)
    length = int(manager.dialog_data.get("code_length") or 6)
    if code is None or len(code) != length:
        if message.text and await handle_free_text(message, manager):
            return
        show_hint(manager, "code_format", length=length)
        return
    in_sms = manager.current_context().state == Recovery.sms_code
    if in_sms:
        recovery = await _call(manager, lambda c, r: c.verify_recovery_code(r, code), retry="again")
    else:
        recovery = await _call(manager, lambda c, r: c.verify_method_code(r, code), retry="again")
    if recovery is None:
        return
    clear_notice(manager)
    _set_note(manager, None)
    await _follow(manager, recovery)


def _code_window_data(manager: DialogManager) -> dict[str, Any]:
    wait = _seconds_until_resend(manager)
    return {
        "phone_masked": html.escape(manager.dialog_data.get("phone_masked") or ""),
        "code_length": manager.dialog_data.get("code_length") or 6,
        "countdown": format_clock(wait),
        "resend_waits": wait > 0,
        "resend_ready": wait <= 0,
    }


# --------------------------------------------------------------------------- account and method


async def _confirm(manager: DialogManager, confirmed: bool) -> None:
    recovery = await _call(
        manager,
        lambda c, r: c.confirm_recovery_account(r, confirmed=confirmed),
        retry="confirm",
        retry_args={"confirmed": confirmed},
    )
    if recovery is None:
        return
    clear_notice(manager)
    _set_note(manager, None)
    await _follow(manager, recovery)


async def _on_its_me(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    await _confirm(manager, True)


async def _on_not_me(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    await _confirm(manager, False)


async def _choose(manager: DialogManager, method: str) -> None:
    if method not in ("totp", "email", "friends"):
        return
    recovery = await _call(
        manager,
        lambda c, r: c.choose_recovery_method(r, method),  # type: ignore[arg-type]
        retry="method",
        retry_args={"method": method},
    )
    if recovery is None:
        return
    clear_notice(manager)
    _set_note(manager, None)
    manager.dialog_data["method"] = method
    if method == "email":
        await _code_sent(manager)
    await _follow(manager, recovery)


def _method_button(method: str) -> Callable[[CallbackQuery, Button, DialogManager], Awaitable]:
    async def on_click(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
        await _choose(manager, method)

    return on_click


async def _other_method(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    clear_notice(manager)
    _set_note(manager, None)
    await manager.switch_to(Recovery.method)


async def _no_email_access(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    await manager.start(
        Help.topic,
        data={"step": step_name(manager), "scenario": "recovery", "topic": "no_email_access"},
    )


async def _call_specialist(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    await manager.start(Handoff.chatting, data={"reason": "help", "step": step_name(manager)})


# --------------------------------------------------------------------------- new password


async def _read_password(message: Message, manager: DialogManager) -> str | None:
    """The password in `message`, which is deleted from the chat at once."""
    password = message.text
    await _delete(message)
    _set_note(manager, "password_hidden")
    if not password:
        show_hint(manager, "password_empty")
        return None
    return password


async def _on_new_password(message: Message, widget: MessageInput, manager: DialogManager) -> None:
    password = await _read_password(message, manager)
    if password is None:
        return
    try:
        recovery = await _linking(manager).propose_new_password(
            manager.dialog_data.get("recovery_id", ""), password
        )
    except LinkingError as error:
        if error.code == "weak_password" and await handle_free_text(message, manager):
            return  # «позовите оператора» is not a password attempt
        await _refused(manager, error, retry="again", retry_args={"hint": "password_again"})
        _set_note(manager, "password_hidden")
        return
    clear_notice(manager)
    await _follow(manager, recovery)


async def _on_repeat_password(
    message: Message, widget: MessageInput, manager: DialogManager
) -> None:
    password = await _read_password(message, manager)
    if password is None:
        return
    checkbox: ManagedCheckbox = manager.find(LOGOUT_CHECKBOX)  # type: ignore[assignment]
    logout = checkbox.is_checked()
    try:
        recovery = await _linking(manager).confirm_new_password(
            manager.dialog_data.get("recovery_id", ""), password, logout_other_sessions=logout
        )
    except LinkingError as error:
        await _refused(manager, error, retry="again", retry_args={"hint": "password_again"})
        _set_note(manager, "password_hidden")
        if error.code == "password_mismatch":
            await manager.switch_to(Recovery.new_password)
        return
    await _follow(manager, recovery)


_HINT_FOR_OTHER_INPUT = {
    Recovery.phone: "phone_format",
    Recovery.sms_code: "code_format",
    Recovery.method_code: "code_format",
    Recovery.new_password: "password_empty",
    Recovery.repeat_password: "password_empty",
}


async def _on_other_input(message: Message, widget: MessageInput, manager: DialogManager) -> None:
    """Stickers, photos, and text on windows that expect a button."""
    if message.text and await handle_free_text(message, manager):
        return
    state = manager.current_context().state
    hint = _HINT_FOR_OTHER_INPUT.get(state, "use_buttons")
    show_hint(manager, hint, length=int(manager.dialog_data.get("code_length") or 6))


async def _on_done(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    await manager.done(result={"password_changed": True})


# --------------------------------------------------------------------------- getters


async def _window_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    manager = dialog_manager
    data = manager.dialog_data
    methods = data.get("methods") or []
    note_key = data.get(NOTE)
    note = _NOTES.get(note_key) if note_key else None
    return {
        **_code_window_data(manager),
        "note": str(note) if note else "",
        "masked_name": html.escape(data.get("masked_name") or ""),
        "email_masked": html.escape(data.get("email_masked") or ""),
        "has_totp": "totp" in methods,
        "has_email": "email" in methods,
        "has_friends": "friends" in methods,
        "has_other_methods": len(methods) > 1,
        "by_email": data.get("channel") == "email",
        "by_app": data.get("channel") == "totp",
    }


# --------------------------------------------------------------------------- windows


def _header() -> list[Any]:
    return [notice_text(), Format("{note}", when=F["note"])]


def _footer() -> list[Any]:
    return [retry_buttons(_RETRY_ACTIONS), nav_row()]


def _phone_window() -> Window:
    return Window(
        progress_text(),
        I18nConst("🔑 <b>Restoring the VK ID password</b> («Забыли или не установили пароль?»)"),
        *_header(),
        I18nConst(
            "Send the phone number you gave when registering VK ID, for example "
            "8 916 123-45-67. I will ask VK ID to send an SMS with a code to it."
        ),
        MessageInput(_on_phone, content_types=[ContentType.TEXT, ContentType.CONTACT]),
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.phone,
        getter=_window_getter,
    )


def _sms_code_window() -> Window:
    return Window(
        progress_text(),
        I18nConst("✉️ <b>Enter the code</b> («Введите код»)"),
        *_header(),
        I18nFormat("An SMS with the code has been sent to the phone {phone_masked}."),
        I18nFormat("Send the {code_length} digits from the SMS here."),
        Button(
            I18nFormat("Send the SMS in {countdown}"),
            id="resend_wait",
            on_click=_on_resend,
            when="resend_waits",
        ),
        Button(
            I18nConst("Send the SMS again"), id="resend", on_click=_on_resend, when="resend_ready"
        ),
        MessageInput(_on_code, content_types=ContentType.TEXT),
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.sms_code,
        getter=_window_getter,
    )


def _confirm_window() -> Window:
    return Window(
        progress_text(),
        I18nConst("👤 <b>Is this your account?</b> («Это ваш аккаунт?»)"),
        *_header(),
        Format("<b>{masked_name}</b>"),
        I18nConst("Check that this is the account whose password you want to restore."),
        Button(I18nConst("Yes, it's me"), id="its_me", on_click=_on_its_me),
        Button(I18nConst("No, another account"), id="not_me", on_click=_on_not_me),
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.confirm_account,
        getter=_window_getter,
    )


def _method_window() -> Window:
    return Window(
        progress_text(),
        I18nConst(
            "🛡 <b>How do you want to confirm that the account is yours?</b> («Как вы хотите "
            "подтвердить, что аккаунт принадлежит вам?»)"
        ),
        *_header(),
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
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.method,
        getter=_window_getter,
    )


def _method_code_window() -> Window:
    return Window(
        progress_text(),
        I18nConst(
            "📧 <b>Enter the code from the e-mail</b> («Введите код из письма»)", when="by_email"
        ),
        I18nConst("🔢 <b>Enter the code from the code-generator app</b>", when="by_app"),
        *_header(),
        I18nFormat("We have sent the code to {email_masked}.", when="by_email"),
        I18nFormat("Open the app and send the {code_length} digits it shows now.", when="by_app"),
        I18nFormat("Send the {code_length} digits from the e-mail here.", when="by_email"),
        Button(
            I18nFormat("Send the code again in {countdown}"),
            id="email_resend_wait",
            on_click=_on_resend,
            when=F["by_email"] & F["resend_waits"],
        ),
        Button(
            I18nConst("Send the code again"),
            id="email_resend",
            on_click=_on_resend,
            when=F["by_email"] & F["resend_ready"],
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
        MessageInput(_on_code, content_types=ContentType.TEXT),
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.method_code,
        getter=_window_getter,
    )


def _friends_window() -> Window:
    return Window(
        progress_text(),
        I18nConst("🤝 <b>With friends you trust</b>"),
        *_header(),
        I18nConst(
            "Friends you trust confirm the account outside VK: you call them or write to them in "
            "a messenger, and they confirm it is you. This cannot be done here in the chat — a "
            "helpdesk specialist will help you with it."
        ),
        Button(I18nConst("🙋 Call a specialist"), id="friends_human", on_click=_call_specialist),
        Button(
            I18nConst("Choose another way"),
            id="friends_other",
            on_click=_other_method,
            when="has_other_methods",
        ),
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.friends,
        getter=_window_getter,
    )


def _new_password_window() -> Window:
    return Window(
        progress_text(),
        I18nConst("🔒 <b>Create a new password</b> («Придумайте новый пароль»)"),
        *_header(),
        I18nConst(
            "At least 8 characters — capital and small letters, digits and special characters "
            "(! \" # $ % ' ( ) *)."
        ),
        I18nConst(
            "Send the new password as a message. I will delete it from the chat right away and "
            "will not keep it."
        ),
        MessageInput(_on_new_password, content_types=ContentType.TEXT),
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.new_password,
        getter=_window_getter,
    )


def _repeat_password_window() -> Window:
    return Window(
        progress_text(),
        I18nConst("🔒 <b>Repeat the new password</b> («Повторите новый пароль»)"),
        *_header(),
        I18nConst(
            "Send the same password once more. Tick the box below to sign out everywhere else."
        ),
        Checkbox(
            I18nConst("☑️ Sign out on all devices except this one"),
            I18nConst("⬜️ Sign out on all devices except this one"),
            id=LOGOUT_CHECKBOX,
            default=False,
        ),
        MessageInput(_on_repeat_password, content_types=ContentType.TEXT),
        MessageInput(_on_other_input),
        *_footer(),
        state=Recovery.repeat_password,
        getter=_window_getter,
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
        MessageInput(_on_other_input),
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
        getter=progress_getter,
        on_start=_on_start,
    )
