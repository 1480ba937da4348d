"""One toolkit for the steps that call the linking backend: the link flow and the recovery.

A dialog describes the backend process it follows once (`Process`: where its id is kept, how to
read it, which window shows each of its states, what to do when it is gone). Then every step is:

    result = await step(manager, PROCESS, lambda linking, id: linking.verify_code(id, code),
                        retry="reprompt")

which clears the last notice, calls the backend (showing «печатает…» while it works longer than
half a second, `backend_wait`), and on success shows the window of the state the backend answered
(never the teacher's guess). A refusal is explained on the step and counted for the helpdesk; an
outage or a VPN refusal offers «Повторить» (`retry_buttons`); a process that is gone (expired,
unknown) goes where the dialog says.

Resynchronisation, for every step of both dialogs: when the backend is already past the step the
window stands for — a stale window, a repeated tap, or an update Telegram delivered again after
the bot died mid-step (its backend effect happened, its reply never went out) — the backend
answers `wrong_state` (or, for a phone or a code request repeated too soon, `resend_too_early`).
`scenario_changed` (a profile appeared on the phone before «Привязать») is said in its own words
and then followed the same way: the teacher goes on in scenario B, never in a loop.
The bot then reads the process and shows the window of the backend's state with «Этот шаг уже
пройден. Вот где вы сейчас.» as a hint, not as an error: the teacher simply goes on.

Codes in flight are remembered with their countdown on the bot's clock (bot/dialogs/countdown.py);
the window on screen counts down by itself (`keep_moving`, bot/countdowns.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiogram.types import CallbackQuery, Message
from aiogram.utils.chat_action import ChatActionSender
from aiogram_dialog import DialogManager
from aiogram_dialog.widgets.kbd import Row

from bot.deps import deps
from bot.dialogs.context import bot_of, linking_of, now, sessions_of, step_name, user_id_of
from bot.dialogs.countdown import deadline, format_clock, seconds_until
from bot.dialogs.inputs import on_input_error, text_input
from bot.dialogs.notices import (
    NOTICE,
    clear_notice,
    record_refusal,
    report_refusal,
    retry_offer,
    show_hint,
)
from bot.dialogs.parsers import InputProblem, check_code_length, parse_code_digits
from bot.widgets.i18n import I18nConst
from bot.widgets.kbd import Button
from services.linking_client import (
    Challenge,
    LinkingClient,
    LinkingError,
    ScenarioChanged,
    WrongState,
)

logger = logging.getLogger(__name__)

V = TypeVar("V")

CHALLENGE = "challenge"
DEFAULT_CODE_LENGTH = 6
GONE = frozenset({"flow_expired", "not_found"})
# Refused because the backend may be ahead of the window (a repeated phone or code request).
MAYBE_AHEAD = frozenset({"resend_too_early"})

Operation = Callable[[LinkingClient, str], Awaitable[V]]
RetryAction = Callable[[CallbackQuery, DialogManager, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Process(Generic[V]):
    """A backend process a dialog follows (a link flow, a recovery)."""

    id_key: str  # the dialog data key of its id
    read: Operation[V]  # its current state, e.g. `LinkingClient.get_flow`
    follow: Callable[[DialogManager, V], Awaitable[None]]  # show the window of its state
    gone: Callable[[DialogManager], Awaitable[None]] | None = None  # None: explain and stay


async def call(
    manager: DialogManager,
    process: Process[Any],
    operation: Operation[V],
    *,
    retry: str | None = None,
    retry_args: Mapping[str, Any] | None = None,
) -> V | None:
    """Run one backend operation on the process; on a refusal explain it and return None."""
    clear_notice(manager)
    process_id = manager.dialog_data.get(process.id_key)
    if not process_id:
        if process.gone is not None:
            await process.gone(manager)
        return None
    try:
        async with backend_wait(manager):
            return await operation(linking_of(manager), process_id)
    except LinkingError as error:
        await refused(manager, process, error, retry=retry, retry_args=retry_args)
        return None


TYPING_AFTER = 0.5
"""Seconds a backend call may take before the chat shows «печатает…» (fast steps send nothing)."""


def backend_wait(manager: DialogManager) -> AbstractAsyncContextManager[Any]:
    """While the backend works, the teacher sees «печатает…» (aiogram's ChatActionSender),
    from `TYPING_AFTER` seconds on and every 5 s after; the one place every backend step uses."""
    chat = deps(manager).get("event_chat")
    if chat is None:
        return contextlib.nullcontext()
    return ChatActionSender.typing(
        bot=bot_of(manager),
        chat_id=chat.id,
        initial_sleep=deps(manager).get("typing_after", TYPING_AFTER),
    )


async def step(
    manager: DialogManager,
    process: Process[V],
    operation: Operation[V],
    *,
    retry: str | None = None,
    retry_args: Mapping[str, Any] | None = None,
) -> V | None:
    """`call`, then show the window of the state the backend answered."""
    result = await call(manager, process, operation, retry=retry, retry_args=retry_args)
    if result is not None:
        await process.follow(manager, result)
    return result


async def refused(
    manager: DialogManager,
    process: Process[Any],
    error: LinkingError,
    *,
    retry: str | None = None,
    retry_args: Mapping[str, Any] | None = None,
) -> None:
    """What a refusal does to the dialog (see the module docstring)."""
    if error.code in GONE and process.gone is not None:
        await record_refusal(manager, error.code)
        await process.gone(manager)
    elif isinstance(error, ScenarioChanged):
        # The backend moved the process to another path (a profile appeared on the phone):
        # say so, then show where it is now — not the generic «Этот шаг уже пройден».
        await record_refusal(manager, error.code)
        if await resync(manager, process) and error.scenario == "existing_profile":
            show_hint(manager, "scenario_changed")
    elif isinstance(error, WrongState):
        await record_refusal(manager, error.code)
        await resync(manager, process)
    elif error.code in MAYBE_AHEAD and await resync(manager, process, only_if_moved=True):
        logger.info("%s: the backend was ahead of the window", error.code)
    else:
        await report_refusal(manager, error, retry=retry, retry_args=retry_args)


async def resync(
    manager: DialogManager, process: Process[Any], *, only_if_moved: bool = False
) -> bool:
    """Show the window of the step the backend is really at; True when that moved the teacher.

    With `only_if_moved`, a window that already stands for the backend's state gets no hint
    and False is returned (the caller explains its refusal instead).
    """
    try:
        current = await process.read(linking_of(manager), manager.dialog_data[process.id_key])
    except LinkingError as error:
        if not only_if_moved:
            await report_refusal(manager, error)
        return False
    before = manager.current_context().state
    await process.follow(manager, current)
    if only_if_moved and manager.current_context().state == before:
        return False
    if NOTICE not in manager.dialog_data:  # unless the new window has its own word to say
        show_hint(manager, "already_done")
    return True


# --------------------------------------------------------------------------- codes in flight


async def remember_challenge(manager: DialogManager, challenge: Challenge | None) -> None:
    """Keep what the code windows show of the code in flight; count codes sent to the teacher.

    The resend countdown starts on the bot's clock when the backend first tells about the code
    (`resend_after` seconds), and is not restarted by later answers about the same code.
    """
    if challenge is None:
        return
    known = manager.dialog_data.get(CHALLENGE) or {}
    same = known.get("id") == challenge.challenge_id
    manager.dialog_data[CHALLENGE] = {
        "id": challenge.challenge_id,
        "channel": challenge.channel,
        "code_length": challenge.code_length,
        "sent_to": challenge.sent_to,
        "resend_at": known.get("resend_at")
        if same
        else deadline(challenge.resend_after, now(manager)),
        "attempts_left": challenge.attempts_left,
    }
    if same or challenge.channel == "totp":  # nothing is sent for the code-generator app
        return
    sessions = sessions_of(manager)
    if sessions is None:
        return
    try:
        await sessions.code_requested(user_id_of(manager))
    except Exception:  # the dialog must not fail because bookkeeping did
        logger.exception("could not count a code")


def challenge_of(manager: DialogManager) -> dict[str, Any]:
    return manager.dialog_data.get(CHALLENGE) or {}


def code_length(manager: DialogManager) -> int:
    return int(challenge_of(manager).get("code_length") or DEFAULT_CODE_LENGTH)


def code_window_data(manager: DialogManager) -> dict[str, Any]:
    """Getter data of a code window: channel, length, where it went, the resend countdown."""
    challenge = challenge_of(manager)
    wait = seconds_until(challenge.get("resend_at"), now(manager))
    if wait > 0:
        keep_moving(manager, challenge["resend_at"])
    channel = challenge.get("channel")
    return {
        "channel": channel,
        "by_call": channel == "call",
        "by_sms": channel == "sms",
        "by_email": channel == "email",
        "by_app": channel == "totp",
        "code_length": code_length(manager),
        "sent_to": challenge.get("sent_to") or manager.dialog_data.get("phone_masked", ""),
        "wait_clock": format_clock(wait),
        "must_wait": wait > 0,
        "can_resend": wait <= 0,
    }


def keep_moving(manager: DialogManager, until: str) -> None:
    """Let the window on screen count down to `until` by itself (bot/countdowns.py)."""
    ticker = deps(manager).get("countdowns")
    chat = deps(manager).get("event_chat")
    if ticker is None or chat is None:
        return
    ticker.watch(
        bot_of(manager),
        user_id_of(manager),
        chat.id,
        step_name(manager),
        datetime.fromisoformat(until),
    )


def stop_other_countdown(manager: DialogManager) -> None:
    """This step window is now on screen: a countdown of another window in the chat stops."""
    ticker = deps(manager).get("countdowns")
    chat = deps(manager).get("event_chat")
    if ticker is not None and chat is not None:
        ticker.showing(user_id_of(manager), chat.id, step_name(manager))


def code_input(on_code: Callable[[DialogManager, str], Awaitable[None]]) -> Any:
    """The input of a code window: digits, as many as the code in flight has."""

    async def on_error(message: Message, widget: Any, manager: DialogManager, error: Any) -> None:
        if isinstance(error, InputProblem) and error.key == "code_format":
            error = InputProblem("code_format", length=code_length(manager))
        await on_input_error(message, widget, manager, error)

    async def on_digits(message: Message, manager: DialogManager, digits: str) -> None:
        await on_code(manager, check_code_length(digits, code_length(manager)))

    return text_input("code", parse_code_digits, on_digits, on_error=on_error)


# --------------------------------------------------------------------------- retry


def retry_buttons(actions: Mapping[str, RetryAction]) -> Row:
    """«Повторить» after an outage, «VPN выключен — повторить» after a VPN refusal."""

    async def run(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
        offer = retry_offer(manager)
        action = actions.get(offer.get("action", ""))
        clear_notice(manager)
        if action is None:  # stale: the window re-renders without the button
            return
        await action(callback, manager, dict(offer.get("args") or {}))

    return Row(
        Button(I18nConst("Retry"), id="retry", on_click=run, when="retry_unavailable"),
        Button(
            I18nConst("I turned the VPN off — retry"),
            id="retry_vpn",
            on_click=run,
            when="retry_vpn",
        ),
    )
