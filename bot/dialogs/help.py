"""«Не получается»: tips for the step the teacher is on, from the seed's notes, then a person.

Start data: {"step": "<StatesGroup>:<state>", "scenario": ..., "topic": optional}. With a topic
(from free text: «не приходит смс» → code_late) only that tip is shown; without one, the tips that
fit the step. «Вернуться к шагу» closes the dialog and the step's window is shown again.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import Data, Dialog, DialogManager, ShowMode
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.text import Format

from bot.dialogs.context import start_data_of
from bot.dialogs.free_text import handle_free_text, recovery_start_data
from bot.dialogs.notices import clear_notice, render_notice, show_hint
from bot.dialogs.states import Handoff, Help, Recovery
from bot.dialogs.steps import HelpTopic, expected_input, help_topics
from bot.widgets.i18n import I18nConst
from bot.widgets.kbd import Button
from bot.widgets.window import Window


def _tip(topic: HelpTopic) -> str:
    """The tip's text in the teacher's language (msgids must stay literal for extraction)."""
    if topic is HelpTopic.WRONG_NUMBER:
        return _(
            "📱 <b>Wrong number?</b> If you made a mistake in the number, change it and request "
            "the code again: press «Change the number» on the code step."
        )
    if topic is HelpTopic.CODE_LATE:
        return _(
            "⏳ <b>The code is late?</b> The reset call comes from a random number: enter the "
            "<b>last 4 digits</b> of the number that called you — you do not need to answer it. "
            "An SMS can take a minute to arrive. Wait until the timer runs out, then request the "
            "code again or choose the other way (call or SMS)."
        )
    if topic is HelpTopic.VPN:
        return _(
            "🛡 <b>VPN.</b> Linking does not work while a VPN is on. Turn the VPN off on your "
            "phone and computer, then repeat the step."
        )
    if topic is HelpTopic.EXISTING_PROFILE:
        return _(
            "👤 <b>Already have a Sferum profile?</b> If a Sferum study profile is already "
            "registered to your phone number, do not create a new one — sign in with your existing "
            "details."
        )
    if topic is HelpTopic.FORGOT_PASSWORD:
        return _(
            "🔑 <b>Forgot your VK ID password?</b> You can restore it right here: press «Restore "
            "password» — it is the same as «Забыли или не установили пароль?» in the VK ID window."
        )
    if topic is HelpTopic.BROWSER:
        return _(
            "🌐 <b>Browser.</b> For the e-journal we recommend Google Chrome or Yandex Browser."
        )
    if topic is HelpTopic.PERSONAL_DATA:
        return _(
            "📝 <b>Your details.</b> Write your real full name in Russian letters (surname and "
            "first name at least), your date of birth (for example 14.03.1985) and choose the "
            "gender. Your Sferum study profile is created with these details."
        )
    if topic is HelpTopic.PASSWORD_POLICY:
        return _(
            "🔒 <b>New password.</b> At least 8 characters: capital and small letters, digits and "
            "special characters (! \" # $ % ' ( ) *). The message with the password is deleted "
            "from the chat right away."
        )
    if topic is HelpTopic.CODE_APP:
        return _(
            "🔢 <b>Code-generator app.</b> Open the app where you added VK ID and enter the "
            "6-digit code it shows now; the code changes every 30 seconds."
        )
    if topic is HelpTopic.NO_EMAIL_ACCESS:
        return _(
            "📧 <b>No access to the e-mail?</b> Go back and choose another way to confirm the "
            "account, or call a specialist — they will help you restore access."
        )
    return _(
        "🤝 <b>Trusted friends.</b> VK ID sends a code to each friend you trust. Reach them "
        "outside VK — call them or write in another messenger — ask for the code and write "
        "it here, one friend after another. A friend does not answer? Ask for the codes again "
        "later, choose another way, or call a specialist."
    )


def topics_for(step: str | None, topic: str | None = None) -> tuple[HelpTopic, ...]:
    """The tips to show: the requested topic alone, else those that fit the step."""
    if topic is not None and topic in HelpTopic.__members__.values():
        return (HelpTopic(topic),)
    return help_topics(step)


def _offers_recovery(start: dict[str, Any]) -> bool:
    step = str(start.get("step") or "")
    shown = topics_for(step, start.get("topic"))
    return HelpTopic.FORGOT_PASSWORD in shown and not step.startswith("Recovery:")


async def _help_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    start = start_data_of(dialog_manager)
    tips = [_tip(topic) for topic in topics_for(start.get("step"), start.get("topic"))]
    return {
        "title": _("Not working? This usually helps:"),
        "tips": "\n\n".join(tips),
        "offers_recovery": _offers_recovery(start),
        "notice": render_notice(dialog_manager),
    }


async def _call_specialist(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    step = start_data_of(manager).get("step")
    await manager.start(Handoff.chatting, data={"reason": "help", "step": step})


async def _restore_password(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.start(Recovery.phone, data=await recovery_start_data(manager))


async def _back_to_step(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.done()


async def _on_text(message: Message, widget: MessageInput, manager: DialogManager) -> None:
    """Free text on the help screen: a new topic, a person, a restart; else a pointer to both
    ways on (a typed description of the problem is for a person, who is one button away)."""
    if message.text and not message.text.startswith("/"):
        clear_notice(manager)
        if await handle_free_text(message, manager):
            manager.show_mode = ShowMode.SEND
            return
    show_hint(manager, expected_input(Help.topic))
    manager.show_mode = ShowMode.SEND


async def _on_result(start_data: Data, result: Any, manager: DialogManager) -> None:
    # A changed password, or a closed helpdesk ticket, is news for the step below, not for Help:
    # the teacher goes straight back to the step she asked help on.
    if isinstance(result, dict) and ("password_changed" in result or result.get("back_to_step")):
        await manager.done(result=result)


def create_help_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("<b>{title}</b>\n\n{tips}"),
            Format("\n{notice}", when="notice"),
            Button(
                I18nConst("🔑 Restore password"),
                id="help_recover",
                on_click=_restore_password,
                when="offers_recovery",
            ),
            Button(I18nConst("🙋 Call a specialist"), id="help_human", on_click=_call_specialist),
            Button(I18nConst("↩️ Back to the step"), id="help_back", on_click=_back_to_step),
            MessageInput(_on_text),
            state=Help.topic,
            getter=_help_getter,
        ),
        on_process_result=_on_result,
    )
