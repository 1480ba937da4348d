"""The line under a step that answers the teacher's last action, and a side note below it.

A *notice* is a refusal (`report_refusal`) or an input hint (`show_hint`, see HINTS); a *note* is
a remark such as «Новое SMS отправлено» (`show_note`, see NOTES). Both are kept in dialog data,
bound to the step they were given on, and translated when shown (so /language applies). When
another step is shown they are dropped, so a window never shows what was said on another one;
a backend call (bot/dialogs/backend_step.py) clears them before it runs. A refusal may offer a
retry («Повторить», «VPN выключен — повторить»), kept with the notice.

Dialog data keys starting with "_" belong to this module and its neighbours. Values stay JSON-able.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiogram.utils.i18n import lazy_gettext as __
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.text import Format, Multi

from bot.dialogs.context import now, sessions_of, step_name, user_id_of
from bot.dialogs.refusals import explain_refusal, refusal_snapshot
from services.linking_client import BackendUnavailable, LinkingError

logger = logging.getLogger(__name__)

NOTICE = "_notice"
NOTE = "_note"

HINTS: dict[str, Any] = {
    "phone_format": __(
        "I could not read a phone number there. Please write a Russian mobile number, for "
        "example 8 916 123-45-67 or +7 (916) 123-45-67, or press «Send my number»."
    ),
    "foreign_contact": __(
        "That is someone else's contact. Please share your own number with the button "
        "«Send my number», or write it."
    ),
    "code_format": __("The code is {length} digits. Please send just the digits."),
    "password_empty": __("Please send your VK ID password as a text message."),
    "password_changed": __("Password changed — please enter the new password."),
    "password_changed_signed_in": __(
        "Password changed, and VK ID has let you in with it — no need to write it again. "
        "The last step of the sign-in is the confirmation code."
    ),
    "password_again": __("Please send your password again."),
    "code_again": __("Please send the code again."),
    "name_format": __(
        "Please write your full name in Russian letters, for example: Иванова Мария Петровна."
    ),
    "date_format": __(
        "I could not read a date there. Please write it like 14.03.1985 or «14 марта 1985»."
    ),
    "date_future": __("That date has not come yet. Please check the year."),
    "date_too_young": __("By that date you would be under 18. Please check the year."),
    "date_too_old": __("By that date you would be over 100. Please check the year."),
    "too_long": __("That message is too long for this step."),
    "use_buttons": __("Please choose one of the buttons below."),
    # The backend is past the step on screen (a stale window, an update delivered again).
    "already_done": __("This step has already been done. Here is where you are now."),
    # What each button-only window waits for, said when the teacher types something else.
    "expect_start": __("When you are ready, press «Let's start» below."),
    "expect_prechecks": __("When the VPN is off, press «VPN is off, continue» below."),
    "expect_branch": __("Please answer with a button below: «Yes», «No» or «I don't know»."),
    "expect_journal": __(
        "To start linking, open me from the e-journal as described above: the messenger icon → "
        "«Перейти к подключению»."
    ),
    "expect_create_profile": __("Check the details and press «Create a study profile» below."),
    "expect_profile": __(
        "Press «Continue» to link this profile, or «Sign in to another account» if it is not yours."
    ),
    "expect_gender": __("Please choose the gender with a button below: «Female» or «Male»."),
    "expect_confirm": __(
        "If everything is right, press «All correct, continue»; to fix something, press «Edit …»."
    ),
    "expect_consent": __("To link the profile, press «Link»; to refuse, press «Cancel»."),
    "expect_rating": __("Please rate the help with a button below: from 1 to 5 stars."),
    "expect_help": __(
        "To tell a person what is wrong, press «🙋 Call a specialist»: the helpdesk answers right "
        "here. To go on with the linking, press «↩️ Back to the step»."
    ),
    "all_done": __(
        "Everything is already done — there is nothing more to do here. If something does not "
        "work in VK Messenger, send /help."
    ),
    "only_text": __(
        "I can only read text messages and buttons here — stickers, photos and voice messages "
        "do not reach the linking. Your step is below."
    ),
    "unknown_command": __(
        "I don't know that command. Commands: /start, /help, /language. Your step is below."
    ),
    "profile_exists": __(
        "There is already a Sferum study profile on this number, so we will not create a "
        "second one — we will link the existing profile."
    ),
    "no_profile_found": __(
        "No Sferum study profile was found on this number — we will create one."
    ),
    "scenario_changed": __(
        "While we went through the steps, a Sferum study profile appeared on this number. "
        "A second one is not created: choose the existing profile below and link it — the "
        "details can be checked and corrected on the next step."
    ),
    "profile_found": __("A Sferum study profile was found on this number — we will link it."),
    "help_unavailable": __(
        "Help for this step: check the phone number, wait for the code timer, turn off the VPN. "
        "If it still does not work, write to the helpdesk of your school."
    ),
    "resumed": __("Let's continue where you stopped."),
    "back_blocked": __(
        "I can't go back there: VK ID has already accepted that step and does not return to it. "
        "To change something you gave earlier, press «Start over»."
    ),
    "expect_restart_confirm": __(
        "Please answer with a button: «Yes, start over» or «↩️ Back to the step»."
    ),
    "expect_cancel_confirm": __(
        "Please answer with a button: «Yes, cancel the linking» or «No, back to linking»."
    ),
    "guide_type_in_window": __(
        "In guide mode everything is typed in the e-journal's window, not here: I follow the "
        "window and write when you move on. To go on here in the chat instead, press «🤖 Do it "
        "for me in the chat»."
    ),
    "guide_unavailable": __(
        "I cannot reach the linking service right now to follow your window. Please try again "
        "in a minute, or go on here in the chat."
    ),
    "guide_back_in_chat": __("We go on here in the chat, from the step you reached in the window."),
    "flow_finished": __(
        "This linking is finished. To link again, open the assistant from the e-journal."
    ),
}


NOTES: dict[str, Any] = {
    "other_account": __(
        "Then this phone number belongs to another VK ID account. Please send the number your "
        "VK ID is registered to."
    ),
    "expired": __("The password restore session has expired. Please send your phone number again."),
    "sms_sent": __("A new SMS has been sent."),
    "email_sent": __("A new e-mail with the code has been sent."),
    "friends_sent": __("New codes have been sent to the friends who have not given theirs yet."),
    "password_hidden": __("🔒 I deleted your message with the password from the chat."),
}


def hint_notice(key: str, **params: Any) -> dict[str, Any]:
    """A notice showing the hint `key` (for start data: a dialog's first window)."""
    return {"kind": "hint", "key": key, "params": params}


def refusal_notice(error: LinkingError, at: datetime) -> dict[str, Any]:
    """A notice explaining `error`, which happened `at` (waiting times count down from it)."""
    return {"kind": "refusal", **refusal_snapshot(error, at)}


def put_notice(manager: DialogManager, notice: Mapping[str, Any]) -> None:
    """Show `notice` on the step on screen now."""
    manager.dialog_data[NOTICE] = {**notice, "step": step_name(manager)}


def take_notice(manager: DialogManager) -> dict[str, Any] | None:
    """Remove the notice and return it, to `put_notice` it again after switching windows."""
    return manager.dialog_data.pop(NOTICE, None)


def show_hint(manager: DialogManager, key: str, **params: Any) -> None:
    """Show an input hint (see HINTS) on the current step."""
    put_notice(manager, hint_notice(key, **params))


def show_note(manager: DialogManager, key: str) -> None:
    """Show a note (see NOTES) on the current step, under the notice."""
    manager.dialog_data[NOTE] = {"key": key, "step": step_name(manager)}


def clear_notice(manager: DialogManager) -> None:
    manager.dialog_data.pop(NOTICE, None)
    manager.dialog_data.pop(NOTE, None)


async def record_refusal(manager: DialogManager, code: str) -> None:
    """Count a refusal at this step for the helpdesk card and /stats (never fails the dialog)."""
    logger.info("refusal %s at %s", code, step_name(manager))
    sessions = sessions_of(manager)
    if sessions is None:
        return
    try:
        await sessions.record_refusal(user_id_of(manager), code, step_name(manager))
    except Exception:  # the teacher's dialog must not fail because analytics did
        logger.exception("could not record a refusal")


async def report_refusal(
    manager: DialogManager,
    error: LinkingError,
    *,
    retry: str | None = None,
    retry_args: Mapping[str, Any] | None = None,
) -> None:
    """Show `error` on the current step, remember it for the helpdesk, offer a retry.

    `retry` names an action of the dialog's retry map; it is offered for an outage and for a
    VPN refusal («VPN выключен — повторить»). Never pass secrets in `retry_args`.
    """
    notice = refusal_notice(error, now(manager))
    kind = (
        "unavailable"
        if isinstance(error, BackendUnavailable)
        else "vpn"
        if error.code == "vpn_detected"
        else None
    )
    if kind is not None and retry is not None:
        notice["retry"] = {"kind": kind, "action": retry, "args": dict(retry_args or {})}
    put_notice(manager, notice)
    await record_refusal(manager, error.code)


def _on_this_step(manager: DialogManager, key: str) -> dict[str, Any] | None:
    """The notice or note under `key` if it belongs to the step on screen; else drop it."""
    value = manager.dialog_data.get(key)
    if not value:
        return None
    if value.get("step", step_name(manager)) != step_name(manager):
        manager.dialog_data.pop(key, None)
        return None
    return value


def retry_offer(manager: DialogManager) -> dict[str, Any]:
    """The retry the current notice offers: {"kind", "action", "args"}, or {}."""
    notice = _on_this_step(manager, NOTICE) or {}
    return notice.get("retry") or {}


def render_notice(manager: DialogManager) -> str:
    """The notice line, marked so that it stands out under the step's own text."""
    notice = _on_this_step(manager, NOTICE)
    if not notice:
        return ""
    if notice.get("kind") == "hint":
        template = HINTS.get(notice.get("key", ""))
        return "👉 " + str(template).format(**notice.get("params", {})) if template else ""
    return "⚠️ " + explain_refusal(notice, now(manager))


def render_note(manager: DialogManager) -> str:
    note = _on_this_step(manager, NOTE)
    text = NOTES.get(note.get("key", "")) if note else None
    return str(text) if text is not None else ""


def notice_text() -> Multi:
    """The notice line and the note; getter keys `notice` and `note` (see progress_getter)."""
    return Multi(
        Format("\n{notice}", when="notice"),
        Format("{note}", when="note"),
    )
