"""/start (with the e-journal's deep-link token or without), /help, and what the continue/restart
buttons (bot/handlers/stale_buttons.py) and the retry after an outage do."""

from __future__ import annotations

import logging
import re
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager, ShowMode, StartMode
from aiogram_dialog.api.exceptions import UnregisteredDialogError

from bot.deps import deps
from bot.dialogs.context import step_name
from bot.dialogs.notices import HINTS, refusal_notice, show_hint
from bot.dialogs.refusals import explain_refusal
from bot.dialogs.restart import flow_start_data, restart_linking
from bot.dialogs.states import Help, Onboarding
from bot.handlers.stale_buttons import RESTART, RESUME
from services.linking_client import (
    AlreadyLinked,
    BackendUnavailable,
    Flow,
    FlowState,
    LinkingClient,
    LinkingError,
    TokenInvalid,
    TokenUsed,
)
from services.storage.link_sessions import LinkSessionRepository
from services.storage.write_behind import WriteDelayed

logger = logging.getLogger(__name__)

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PENDING_TOKEN = "pending_token"
RETRY_START = "start:retry"


async def resume(manager: DialogManager, *, hint: str | None = "resumed") -> None:
    """Show the window the teacher stopped at, as a new message at the bottom of the chat."""
    # «Продолжим с того места…» means nothing on a screen that is not a step of the linking.
    if manager.current_context().state in (Onboarding.how_to_open, Onboarding.already_linked):
        hint = None
    if hint is not None:
        show_hint(manager, hint)
    await manager.show(ShowMode.SEND)


async def _start_with_notice(manager: DialogManager, state: Any, notice: dict | None) -> None:
    data = {"notice": notice} if notice else None
    await manager.start(state, data=data, mode=StartMode.RESET_STACK, show_mode=ShowMode.SEND)


async def _own_fresh_flow(linking: LinkingClient, used: TokenUsed) -> Flow | None:
    """The flow she opened with this link herself, if nothing was done in it yet.

    A repeat of her own redemption whose answer never reached the bot (a timeout: «Повторить»)
    or whose dialog was never saved (the process died before committing the update, which
    Telegram then delivers again): the backend names the flow (`TokenUsed.flow_id`, only to the
    end user who redeemed the link). A flow further along, or ended, is not taken up here.
    """
    if used.flow_id is None:
        return None
    try:
        flow = await linking.get_flow(used.flow_id)
    except BackendUnavailable:
        raise  # she is offered «Повторить», as when the redemption itself found it away
    except LinkingError:
        return None
    return flow if flow.state is FlowState.PHONE else None


async def _offer_retry(
    state: FSMContext, token: str, answer: Any, error: BackendUnavailable
) -> None:
    """The backend is away: «Повторить» redeems the same link again (it is kept for it)."""
    await state.update_data({PENDING_TOKEN: token})
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("Retry"), callback_data=RETRY_START)]]
    )
    await answer(explain_refusal(error), reply_markup=keyboard)


async def redeem_token(
    user: User,
    chat_id: int,
    token: str,
    manager: DialogManager,
    *,
    linking: LinkingClient,
    sessions: LinkSessionRepository,
    state: FSMContext,
    answer: Any,
) -> None:
    """Open the link flow for `token` and greet the teacher; explain every refusal."""
    clock = deps(manager)["clock"]
    try:
        flow = await linking.start_flow(token)
    except AlreadyLinked as error:
        profile = error.profile
        data: dict[str, Any] = {}
        if profile is not None:
            data["profile"] = {"full_name": profile.full_name, "school": profile.school}
        await manager.start(
            Onboarding.already_linked,
            data=data,
            mode=StartMode.RESET_STACK,
            show_mode=ShowMode.SEND,
        )
        return
    except TokenUsed as error:
        if manager.has_context():
            await resume(manager)  # the same link again mid-dialog: carry on
            return
        try:
            reopened = await _own_fresh_flow(linking, error)
        except BackendUnavailable as unavailable:
            await _offer_retry(state, token, answer, unavailable)
            return
        if reopened is None:
            await _start_with_notice(
                manager,
                Onboarding.how_to_open,
                refusal_notice(error, clock.now()),
            )
            return
        flow = reopened  # her own redemption, repeated: carry on with its flow
    except BackendUnavailable as error:
        await _offer_retry(state, token, answer, error)
        return
    except LinkingError as error:
        await _start_with_notice(
            manager,
            Onboarding.how_to_open,
            refusal_notice(error, clock.now()),
        )
        return
    await state.update_data({PENDING_TOKEN: None})
    try:
        await sessions.begin(
            user_id=user.id,
            chat_id=chat_id,
            flow_id=flow.flow_id,
            mesh_account_id=flow.mesh_account.id,
            teacher_name=flow.mesh_account.full_name,
            step=Onboarding.greeting.state,  # type: ignore[arg-type]
        )
    except WriteDelayed:
        # Queued, not lost: it lands when the database answers, and this update is acknowledged
        # only after it has (bot/durability.py). Her link is redeemed already — stopping here
        # would leave her a used link and no dialog — so she is greeted meanwhile.
        logger.warning("user %d: her link session's start is not committed yet; going on", user.id)
    await manager.start(
        Onboarding.greeting,
        data=flow_start_data(flow, user.first_name),
        mode=StartMode.RESET_STACK,
        show_mode=ShowMode.SEND,
    )


async def on_start(
    message: Message,
    command: CommandObject,
    dialog_manager: DialogManager,
    linking: LinkingClient,
    sessions: LinkSessionRepository,
    state: FSMContext,
) -> None:
    token = (command.args or "").strip()
    if not token:
        if dialog_manager.has_context():
            await resume(dialog_manager)
        else:
            await _start_with_notice(dialog_manager, Onboarding.how_to_open, None)
        return
    if not TOKEN_PATTERN.match(token):
        error = TokenInvalid("token_invalid")
        clock = deps(dialog_manager)["clock"]
        await _start_with_notice(
            dialog_manager,
            Onboarding.how_to_open,
            refusal_notice(error, clock.now()),
        )
        return
    await redeem_token(
        message.from_user,  # type: ignore[arg-type]
        message.chat.id,
        token,
        dialog_manager,
        linking=linking,
        sessions=sessions,
        state=state,
        answer=message.answer,
    )


async def on_retry_start(
    callback: CallbackQuery,
    dialog_manager: DialogManager,
    linking: LinkingClient,
    sessions: LinkSessionRepository,
    state: FSMContext,
) -> None:
    token = (await state.get_data()).get(PENDING_TOKEN)
    await callback.answer()
    if not token:
        await on_resume(callback, dialog_manager)
        return
    await redeem_token(
        callback.from_user,
        callback.message.chat.id,  # type: ignore[union-attr]
        token,
        dialog_manager,
        linking=linking,
        sessions=sessions,
        state=state,
        answer=callback.message.answer,  # type: ignore[union-attr]
    )


async def on_resume(callback: CallbackQuery, dialog_manager: DialogManager) -> None:
    await callback.answer()
    if dialog_manager.has_context():
        await resume(dialog_manager, hint=None)
    else:
        await restart_linking(dialog_manager)


async def on_restart(callback: CallbackQuery, dialog_manager: DialogManager) -> None:
    await callback.answer()
    await restart_linking(dialog_manager)


async def on_help(message: Message, dialog_manager: DialogManager) -> None:
    if dialog_manager.has_context():
        context = dialog_manager.current_context()
        scenario = context.dialog_data.get("scenario")
        try:
            await dialog_manager.start(
                Help.topic, data={"step": step_name(dialog_manager), "scenario": scenario}
            )
            return
        except UnregisteredDialogError:
            await message.answer(str(HINTS["help_unavailable"]))
            await resume(dialog_manager, hint=None)
            return
    await _start_with_notice(dialog_manager, Onboarding.how_to_open, None)


def create_start_router() -> Router:
    router = Router(name="start")
    private = F.chat.type == "private"
    router.message.register(on_start, CommandStart(), private)
    router.message.register(on_help, Command("help"), private)
    router.callback_query.register(on_retry_start, F.data == RETRY_START)
    router.callback_query.register(on_resume, F.data == RESUME)
    router.callback_query.register(on_restart, F.data == RESTART)
    return router
