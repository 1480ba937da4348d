"""Pieces every step window shares: progress, history-based «Назад», notices, refusals, «Повторить».

A step window gets, through the dialog-level `progress_getter`:
  progress  «Шаг k из n» (empty when the step has no place in the plan),
  notice    the last refusal or input hint, translated at render time (so /language applies),
  can_back  whether «Назад» has a screen to go back to,
  retry_*   whether «Повторить» (backend down) or «VPN выключен — повторить» is offered.

Dialog data keys starting with "_" belong to this module. Values stay JSON-able.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import F
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.api.exceptions import UnregisteredDialogError
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Row
from aiogram_dialog.widgets.text import Format

from bot.dialogs.states import Help
from bot.widgets.i18n import I18nConst
from services.linking_client import BackendUnavailable, LinkingError

logger = logging.getLogger(__name__)

HISTORY = "_history"
RECORDED_STEP = "_step"
NOTICE = "_notice"
RETRY = "_retry"
MAX_HISTORY = 30
MAX_INPUT_LENGTH = 300

RetryAction = Callable[[CallbackQuery, DialogManager, dict[str, Any]], Awaitable[None]]


# --------------------------------------------------------------------------- dependencies


def now(manager: DialogManager) -> datetime:
    """The bot's clock (a FakeClock in tests, shared with the backend)."""
    clock = manager.middleware_data.get("clock")
    return clock.now() if clock is not None else datetime.now(UTC)


def user_id_of(manager: DialogManager) -> int:
    return manager.event.from_user.id  # type: ignore[union-attr]


def step_name(manager: DialogManager) -> str:
    """`"<StatesGroup>:<state>"` of the window on screen, e.g. "Link:code"."""
    return manager.current_context().state.state  # type: ignore[return-value]


# --------------------------------------------------------------------------- durations and counts


def format_duration(seconds: int) -> str:
    """«56 секунд», «2 минуты», «1 час» (rounded up to whole minutes/hours above a minute)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return ngettext("{n} second", "{n} seconds", seconds).format(n=seconds)
    if seconds < 3600:
        minutes = -(-seconds // 60)
        return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)
    hours = -(-seconds // 3600)
    return ngettext("{n} hour", "{n} hours", hours).format(n=hours)


def format_clock(seconds: int) -> str:
    """A countdown as the VK ID windows show it: 0:56, 1:15, 4:51."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def attempts_text(attempts_left: int) -> str:
    return ngettext("{n} attempt left.", "{n} attempts left.", attempts_left).format(
        n=attempts_left
    )


# --------------------------------------------------------------------------- refusals


_PERSONAL_DATA_REASONS: dict[tuple[str, str], Any] = {
    ("full_name", "not_cyrillic"): __(
        "The full name must be written in Russian letters, as in your passport."
    ),
    ("full_name", "too_short"): __("Please give at least your surname and first name."),
    ("full_name", "too_long"): __("The full name is too long."),
    ("birth_date", "invalid"): __("The date of birth is not a real date."),
    ("birth_date", "too_young"): __("The date of birth says you are under 18."),
    ("birth_date", "too_old"): __("The date of birth says you are over 100."),
    ("gender", "invalid"): __("Please choose the gender with a button."),
}

_WEAK_PASSWORD_RULES: dict[str, Any] = {
    "min_length": __("at least 8 characters"),
    "uppercase": __("a capital letter"),
    "lowercase": __("a small letter"),
    "digit": __("a digit"),
    "special": __("a special character such as ! # $ % *"),
}


def refusal_snapshot(error: LinkingError, at: datetime) -> dict[str, Any]:
    """What to remember of a refusal to explain it again later (JSON-able, no secrets)."""
    snapshot: dict[str, Any] = {"code": error.code, "at": at.isoformat()}
    if error.attempts_left is not None:
        snapshot["attempts_left"] = error.attempts_left
    if error.retry_after is not None:
        snapshot["retry_after"] = error.retry_after
    for key in ("fields", "unmet", "state", "mesh_phone_masked"):
        value = error.payload.get(key)
        if isinstance(value, dict | list | str):
            snapshot[key] = value
    return snapshot


def _remaining(snapshot: Mapping[str, Any], at: datetime | None) -> int:
    retry_after = int(snapshot.get("retry_after") or 0)
    noted = snapshot.get("at")
    if at is None or not noted:
        return retry_after
    elapsed = (at - datetime.fromisoformat(noted)).total_seconds()
    return max(0, int(retry_after - elapsed + 0.999))


def explain_refusal(error: LinkingError | Mapping[str, Any], at: datetime | None = None) -> str:
    """A friendly, specific, translated explanation of a backend refusal.

    `error` is the exception or a `refusal_snapshot`; with `at`, waiting times count down from
    when the refusal happened.
    """
    snapshot = (
        refusal_snapshot(error, at or datetime.now(UTC))
        if isinstance(error, LinkingError)
        else dict(error)
    )
    code = snapshot.get("code", "")
    attempts = snapshot.get("attempts_left")
    wait = _remaining(snapshot, at)

    if code == "wrong_password":
        text = _("The VK ID password is not right.")
        if attempts is not None:
            text += " " + attempts_text(attempts)
        return text
    if code == "password_locked":
        return _(
            "Too many wrong passwords, so VK ID has paused password entry. "
            "Please try again in {wait}, or restore the password with "
            "«Забыли или не установили пароль?»."
        ).format(wait=format_duration(wait))
    if code == "code_invalid":
        text = _("The code is not right.")
        if attempts is not None:
            text += " " + attempts_text(attempts)
        return text
    if code == "resend_too_early":
        if wait <= 0:
            return _("You can ask for a new code now.")
        # As the VK ID windows count it («Отправить SMS через 1:15»): «2 минуты» for 75 s misleads.
        return _("A new code can be requested in {wait}. Please wait a little.").format(
            wait=format_clock(wait) if 60 <= wait < 3600 else format_duration(wait)
        )
    if code == "rate_limited":
        return _(
            "Too many requests in a short time. For your safety, please try again in {wait}."
        ).format(wait=format_duration(wait))
    if code == "confirmation_locked":
        return _(
            "Too many wrong codes were entered for this number. For your safety, confirmation "
            "is locked for {wait}. Please turn to the helpdesk: «It doesn't work» → "
            "«🙋 Call a specialist»."
        ).format(wait=format_duration(wait))
    if code == "phone_mismatch":
        return _(
            "This is not the number in your e-journal profile ({phone}). Please send that "
            "number, or first confirm the new number in the e-journal, then send it here again."
        ).format(phone=snapshot.get("mesh_phone_masked") or "—")
    if code == "invalid_personal_data":
        fields = snapshot.get("fields") or {}
        reasons = [
            str(_PERSONAL_DATA_REASONS[(name, reason)])
            for name, reason in fields.items()
            if (name, reason) in _PERSONAL_DATA_REASONS
        ]
        return " ".join(reasons) or _("Please check your full name, date of birth and gender.")
    if code == "weak_password":
        unmet = [
            str(_WEAK_PASSWORD_RULES[r])
            for r in snapshot.get("unmet") or []
            if r in _WEAK_PASSWORD_RULES
        ]
        text = _(
            "The new password is too simple. It needs at least 8 characters: capital and small "
            "letters, digits and special characters."
        )
        if unmet:
            text += " " + _("Missing: {rules}.").format(rules=", ".join(unmet))
        return text
    simple = _SIMPLE_EXPLANATIONS.get(code)
    if simple is not None:
        return str(simple)
    return _("Something went wrong on the linking service's side. Please try again.")


_SIMPLE_EXPLANATIONS: dict[str, Any] = {
    "bad_request": __("The linking service did not understand the request. Please try again."),
    "unauthorized": __(
        "The assistant could not sign in to the linking service. Please ask the helpdesk."
    ),
    "not_found": __(
        "The linking service no longer knows this linking. Please open the assistant again "
        "from the e-journal («Перейти к подключению»)."
    ),
    "payload_too_large": __("That message is too long. Please send something shorter."),
    "token_invalid": __(
        "This link is not valid. Please open the assistant again from the e-journal: "
        "the messenger icon → «Перейти к подключению»."
    ),
    "token_expired": __(
        "This link has expired. Please open the assistant again from the e-journal: "
        "the messenger icon → «Перейти к подключению» gives a fresh link."
    ),
    "token_used": __(
        "This link has already been used. Please open the assistant again from the e-journal: "
        "the messenger icon → «Перейти к подключению»."
    ),
    "already_linked": __("Your e-journal account is already linked to a Sferum profile."),
    "flow_expired": __(
        "This linking session has expired. Please open the assistant again from the e-journal "
        "(«Перейти к подключению»), and we will start afresh."
    ),
    "wrong_state": __("This step has already been done. Here is where you are now."),
    "phone_invalid": __(
        "This does not look like a Russian mobile number. Please check it, for example "
        "+7 916 123-45-67."
    ),
    "vpn_detected": __(
        "Linking does not work while a VPN is on. Please turn the VPN off on this device "
        "and press the button below."
    ),
    "code_expired": __("The code has expired. Please ask for a new code."),
    "code_burnt": __(
        "Too many wrong codes, so this code no longer works. Please ask for a new code."
    ),
    "no_active_code": __("There is no active code right now. Please ask for a new code."),
    "channel_unavailable": __("This way of getting a code is not available for your account."),
    "unknown_account": __("There is no VK ID account with this phone number."),
    "password_mismatch": __("The passwords do not match. Please enter the new password again."),
    "unavailable": __(
        "The linking service is not answering right now. Nothing is lost: press «Retry» in a "
        "minute."
    ),
}


# --------------------------------------------------------------------------- notices


async def report_refusal(
    manager: DialogManager,
    error: LinkingError,
    *,
    retry: str | None = None,
    retry_args: Mapping[str, Any] | None = None,
) -> None:
    """Show `error` in the current window, remember it for the helpdesk, offer a retry.

    `retry` names an action of the dialog's retry map; it is offered for an outage and for a
    VPN refusal («VPN выключен — повторить»). Never pass secrets in `retry_args`.
    """
    at = now(manager)
    manager.dialog_data[NOTICE] = {"kind": "refusal", **refusal_snapshot(error, at)}
    kind = (
        "unavailable"
        if isinstance(error, BackendUnavailable)
        else "vpn"
        if error.code == "vpn_detected"
        else None
    )
    if kind is not None and retry is not None:
        manager.dialog_data[RETRY] = {"kind": kind, "action": retry, "args": dict(retry_args or {})}
    else:
        manager.dialog_data.pop(RETRY, None)
    sessions = manager.middleware_data.get("sessions")
    if sessions is not None:
        try:
            await sessions.record_refusal(user_id_of(manager), error.code, step_name(manager))
        except Exception:  # the teacher's dialog must not fail because analytics did
            logger.exception("could not record a refusal")
    logger.info("refusal %s at %s", error.code, step_name(manager))


def show_hint(manager: DialogManager, key: str, **params: Any) -> None:
    """Show an input hint (see HINTS) in the current window."""
    manager.dialog_data[NOTICE] = {"kind": "hint", "key": key, "params": params}
    manager.dialog_data.pop(RETRY, None)


def clear_notice(manager: DialogManager) -> None:
    manager.dialog_data.pop(NOTICE, None)
    manager.dialog_data.pop(RETRY, None)


HINTS: dict[str, Any] = {
    "phone_format": __(
        "I could not read a phone number there. Please send a Russian mobile number, for "
        "example 8 916 123-45-67 or +7 (916) 123-45-67, or press «📱 Send my number»."
    ),
    "foreign_contact": __(
        "That is someone else's contact. Please share your own number with the button "
        "«📱 Send my number», or type it."
    ),
    "code_format": __("The code is {length} digits. Please send just the digits."),
    "password_empty": __("Please send your VK ID password as a text message."),
    "password_changed": __("Password changed — please enter the new password."),
    "password_again": __("Please send your password again."),
    "code_again": __("Please send the code again."),
    "name_format": __(
        "Please write your real full name in Russian letters: surname, first name and, if you "
        "have one, patronymic. For example: Иванова Мария Петровна."
    ),
    "date_format": __(
        "I could not read a date there. Please write it like 14.03.1985 or «14 марта 1985»."
    ),
    "date_future": __("That date has not come yet. Please check the year."),
    "date_too_young": __("By that date you would be under 18. Please check the year."),
    "date_too_old": __("By that date you would be over 100. Please check the year."),
    "too_long": __("That message is too long for this step."),
    "use_buttons": __("Please choose one of the buttons below."),
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
        "There is no Sferum study profile on this number yet, so we will create one."
    ),
    "help_unavailable": __(
        "Help for this step: check the phone number, wait for the code timer, turn off the VPN. "
        "If it still does not work, write to the helpdesk of your school."
    ),
    "resumed": __("Let's continue where you stopped."),
    "flow_finished": __(
        "This linking is finished. To link again, open the assistant from the e-journal."
    ),
}


def render_notice(manager: DialogManager) -> str:
    """The notice line, marked so that it stands out under the step's own text."""
    notice = manager.dialog_data.get(NOTICE)
    if not notice:
        return ""
    if notice.get("kind") == "hint":
        template = HINTS.get(notice.get("key", ""))
        return "👉 " + str(template).format(**notice.get("params", {})) if template else ""
    return "⚠️ " + explain_refusal(notice, now(manager))


# --------------------------------------------------------------------------- progress


def _plan(group: str, scenario: str | None, authorised: bool) -> list[tuple[str, ...]]:
    """Steps of each scenario, in the seed's order; a step may span several windows."""
    data = ("Link:full_name", "Link:birth_date", "Link:gender", "Link:confirm_data")
    if group == "Recovery":
        return [
            ("Recovery:phone",),
            ("Recovery:sms_code",),
            ("Recovery:confirm_account",),
            ("Recovery:method", "Recovery:friends"),
            ("Recovery:method_code",),
            ("Recovery:new_password", "Recovery:repeat_password", "Recovery:done"),
        ]
    if scenario == "registration":
        return [("Link:phone",), ("Link:code",), data, ("Link:consent",)]
    if scenario == "existing_profile":
        steps: list[tuple[str, ...]] = [("Link:phone",)]
        if not authorised:
            steps.append(("Link:password",))
        return [*steps, ("Link:code",), ("Link:choose_profile",), data, ("Link:consent",)]
    # New profile, or not decided yet (before the phone the plan of A is the longest guess).
    return [
        ("Link:phone",),
        ("Link:account_card",),
        ("Link:password",),
        ("Link:code",),
        data,
        ("Link:consent",),
    ]


def step_position(
    step: str, scenario: str | None = None, authorised: bool = False
) -> tuple[int, int] | None:
    """(k, n) of `step` in its scenario's plan, or None when it is not a numbered step."""
    plan = _plan(step.split(":", 1)[0], scenario, authorised)
    for index, windows in enumerate(plan, start=1):
        if step in windows:
            return index, len(plan)
    return None


def progress_line(step: str, scenario: str | None, authorised: bool) -> str:
    """«Шаг k из n»; «Восстановление пароля · шаг k из n» inside scenario C.

    Before the phone number the backend has not chosen the scenario yet, so the total is not
    known: the phone step says only «Шаг 1» rather than a total that changes a step later.
    """
    position = step_position(step, scenario, authorised)
    if position is None:
        return ""
    k, n = position
    if step.startswith("Recovery:"):
        return _("Password recovery · step {k} of {n}").format(k=k, n=n)
    if scenario is None and step == "Link:phone":
        return _("Step {k}").format(k=k)
    return _("Step {k} of {n}").format(k=k, n=n)


def _remember_screen(data: dict[str, Any], step: str) -> None:
    history: list[str] = data.setdefault(HISTORY, [])
    if not history or history[-1] != step:
        history.append(step)
        del history[:-MAX_HISTORY]


async def progress_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    """Dialog-level getter: progress line, notice, nav flags; records entering each step."""
    manager = dialog_manager
    data = manager.dialog_data
    step = step_name(manager)
    _remember_screen(data, step)
    scenario = data.get("scenario") or (manager.start_data or {}).get("scenario")
    if data.get(RECORDED_STEP) != step:
        data[RECORDED_STEP] = step
        sessions = manager.middleware_data.get("sessions")
        if sessions is not None:
            try:
                await sessions.enter_step(
                    user_id_of(manager),
                    step,
                    scenario=scenario,
                    phone_masked=data.get("phone_masked"),
                )
            except Exception:
                logger.exception("could not record a step")
    retry = data.get(RETRY) or {}
    return {
        "progress": progress_line(step, scenario, bool(data.get("authorised"))),
        "notice": render_notice(manager),
        "can_back": len(data.get(HISTORY, [])) > 1 or _is_nested(manager),
        "retry_unavailable": retry.get("kind") == "unavailable",
        "retry_vpn": retry.get("kind") == "vpn",
    }


def _is_nested(manager: DialogManager) -> bool:
    return len(manager.current_stack().intents) > 1


# --------------------------------------------------------------------------- navigation


async def go_back(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Назад»: the previous screen this teacher saw (not the StatesGroup order)."""
    clear_notice(manager)
    history: list[str] = manager.dialog_data.get(HISTORY, [])
    if len(history) > 1:
        history.pop()
        target = history[-1]
        group = manager.current_context().state.group
        state = next((s for s in group.__all_states__ if s.state == target), None)
        if state is not None:
            await manager.switch_to(state)
            return
    if _is_nested(manager):
        await manager.done()


async def restart(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Начать заново»: back to the greeting of the same linking (no new link needed)."""
    from bot.dialogs.onboarding import restart_linking

    await restart_linking(manager)


async def open_help(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """«Не получается»: help for this very step."""
    step = step_name(manager)
    scenario = manager.dialog_data.get("scenario") or (manager.start_data or {}).get("scenario")
    try:
        await manager.start(Help.topic, data={"step": step, "scenario": scenario})
    except UnregisteredDialogError:
        show_hint(manager, "help_unavailable")


def nav_row() -> Row:
    """«Назад» · «Начать заново» · «Не получается» — on every step window."""
    return Row(
        Button(I18nConst("« Back"), id="nav_back", on_click=go_back, when=F["can_back"]),
        Button(I18nConst("Start over"), id="nav_restart", on_click=restart),
        Button(I18nConst("It doesn't work"), id="nav_help", on_click=open_help),
    )


async def answer_unexpected(message: Message, manager: DialogManager, expect: str) -> None:
    """A message the window cannot use: understood free text acts, anything else gets a hint.

    `expect` names the hint (see HINTS) that says what this window waits for; the dialog stays
    where it is and the window is shown again below the teacher's message.
    """
    text = message.text
    if text is not None and text.startswith("/"):
        show_hint(manager, "unknown_command")
    elif text is None:
        show_hint(manager, "only_text")
    elif len(text) > MAX_INPUT_LENGTH:
        show_hint(manager, "too_long")
    else:
        from bot.dialogs.free_text import handle_free_text  # free_text reaches onboarding

        if not await handle_free_text(message, manager):
            show_hint(manager, expect)


def any_input(expect: str = "use_buttons") -> MessageInput:
    """The input of a window that waits for a button: free text, stickers, stray commands."""

    async def on_message(message: Message, widget: Any, manager: DialogManager) -> None:
        await answer_unexpected(message, manager, expect)

    return MessageInput(on_message)


def notice_text() -> Format:
    """The refusal or hint line; place it right under the progress line."""
    return Format("\n{notice}", when=F["notice"])


def progress_text() -> Format:
    return Format("<i>{progress}</i>", when=F["progress"])


def retry_buttons(actions: Mapping[str, RetryAction]) -> Row:
    """«Повторить» after an outage, «VPN выключен — повторить» after a VPN refusal."""

    async def run(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
        retry = manager.dialog_data.get(RETRY) or {}
        action = actions.get(retry.get("action", ""))
        clear_notice(manager)
        if action is None:  # stale: the window re-renders without the button
            return
        await action(callback, manager, dict(retry.get("args") or {}))

    return Row(
        Button(I18nConst("Retry"), id="retry", on_click=run, when=F["retry_unavailable"]),
        Button(
            I18nConst("I turned the VPN off — retry"),
            id="retry_vpn",
            on_click=run,
            when=F["retry_vpn"],
        ),
    )


async def restart_dialog_from_scratch(manager: DialogManager, state: Any, data: Any) -> None:
    """Start `state` as the only dialog (used by /start and «Начать заново»)."""
    await manager.start(state, data=data, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


def utc_in(seconds: int, at: datetime) -> str:
    return (at + timedelta(seconds=max(0, seconds))).isoformat()
