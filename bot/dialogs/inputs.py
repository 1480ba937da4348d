"""What a step window does with what the teacher sends.

A typed answer goes through aiogram-dialog's `TextInput`: a parser (bot/dialogs/parsers.py) turns
the text into a value or raises `InputProblem`; a check that needs the dialog (today's date, the
code's length) may raise it too; then the step acts. Whatever a step cannot use gets one answer,
the same on every window (`answer_unusable`): a stray command, a sticker or photo, a message too
long, free text that obviously means something (it acts, as in aiogram-dialog's example/wizard.py),
and otherwise the hint saying what this window waits for (the step table's `expects`).

Typed text is never kept in the dialog's storage (`TextInput` would keep it as widget data), and
the password steps delete every text they receive before reading it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram.enums import ContentType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager
from aiogram_dialog.api.protocols import DialogProtocol
from aiogram_dialog.widgets.input import CombinedInput, MessageInput, TextInput
from aiogram_dialog.widgets.input.text import ManagedTextInput, OnError

from bot.dialogs.free_text import handle_free_text
from bot.dialogs.notices import show_hint, show_note
from bot.dialogs.parsers import InputProblem, parse_password, parse_phone
from bot.dialogs.steps import expected_input
from bot.intents import MAX_TEXT_LENGTH
from services.phones import normalize_ru_phone

logger = logging.getLogger(__name__)

T = TypeVar("T")

OnValue = Callable[[Message, DialogManager, T], Awaitable[None]]
Expectation = str | Callable[[DialogManager], str] | None


async def answer_unusable(
    message: Message, manager: DialogManager, hint: str, **params: Any
) -> None:
    """A message the window cannot use: understood free text acts, anything else gets a hint.

    `hint` (see HINTS) says what this window waits for; the dialog stays where it is and the
    window is shown again below the teacher's message.
    """
    text = message.text
    if text is None:
        show_hint(manager, "only_text")
    elif text.startswith("/"):
        show_hint(manager, "unknown_command")
    elif len(text) > MAX_TEXT_LENGTH:  # a letter, not an answer (the one limit, bot/intents.py)
        show_hint(manager, "too_long")
    elif not await handle_free_text(message, manager):
        show_hint(manager, hint, **params)


async def on_input_error(
    message: Message, widget: Any, manager: DialogManager, error: ValueError
) -> None:
    """The one `on_error` of every text input: free text first, else the parser's hint."""
    if isinstance(error, InputProblem):
        await answer_unusable(message, manager, error.key, **error.params)
    else:
        await answer_unusable(message, manager, expected_input(manager.current_context().state))


class StepTextInput(TextInput[T]):
    """A `TextInput` that never keeps the typed text (codes, passwords, personal data)."""

    def set_widget_data(self, manager: DialogManager, value: Any) -> None:
        return None


def text_input(
    widget_id: str,
    parse: Callable[[str], T],
    on_value: OnValue[T],
    *,
    on_error: OnError[Any] = on_input_error,
    widget: type[StepTextInput[Any]] = StepTextInput,
) -> StepTextInput[T]:
    """parse → `on_value`; an `InputProblem` from either goes to `on_error` (the shared one)."""

    async def on_success(
        message: Message, managed: ManagedTextInput[T], manager: DialogManager, value: T
    ) -> None:
        try:
            await on_value(message, manager, value)
        except InputProblem as problem:
            await on_error(message, managed, manager, problem)

    return widget(id=widget_id, type_factory=parse, on_success=on_success, on_error=on_error)


def any_input(expect: Expectation = None) -> MessageInput:
    """The input for everything else: stickers, photos, commands, text on a buttons window.

    `expect` names the hint (or computes it); by default the step table's `expects`.
    """

    async def on_message(message: Message, widget: Any, manager: DialogManager) -> None:
        if expect is None:
            hint = expected_input(manager.current_context().state)
        else:
            hint = expect if isinstance(expect, str) else expect(manager)
        await answer_unusable(message, manager, hint)

    return MessageInput(on_message)


# --------------------------------------------------------------------------- phone


def phone_input(on_phone: OnValue[str]) -> CombinedInput:
    """A typed number or the teacher's own contact («📱 Отправить мой номер»), as E.164.

    A contact counts only when Telegram says it is the sender's own: one shared from the
    address book (someone else's, or a card without a Telegram account) is refused.
    """

    async def on_contact(message: Message, widget: Any, manager: DialogManager) -> None:
        contact = message.contact
        sender = message.from_user
        if contact is None or sender is None or contact.user_id != sender.id:
            show_hint(manager, "foreign_contact")
            return
        phone = normalize_ru_phone(contact.phone_number)
        if phone is None:
            show_hint(manager, "phone_format")
            return
        await on_phone(message, manager, phone)

    return CombinedInput(
        text_input("phone", parse_phone, on_phone),
        MessageInput(on_contact, content_types=ContentType.CONTACT),
    )


# --------------------------------------------------------------------------- passwords


async def delete_secret(message: Message) -> bool:
    """Take a message with a secret out of the chat; tell the teacher when that failed."""
    try:
        await message.delete()
    except TelegramAPIError:
        logger.warning("could not delete a message with a password")
        await message.answer(
            _(
                "⚠️ I could not delete your message with the password from the chat. Please "
                "delete it yourself: press and hold it (or right-click it) and choose «Delete»."
            )
        )
        return False
    return True


class PasswordInput(StepTextInput[str]):
    """Deletes every text it receives, before anything else, and says so honestly."""

    async def process_message(
        self, message: Message, dialog: DialogProtocol, manager: DialogManager
    ) -> bool:
        if message.content_type != ContentType.TEXT:
            return False
        deleted = await delete_secret(message)
        processed = await super().process_message(message, dialog, manager)
        if deleted and manager.has_context():  # said on whatever window she sees next
            show_note(manager, "password_hidden")
        return processed


def password_input(widget_id: str, on_password: OnValue[str]) -> PasswordInput:
    """A password step's input. A sentence the free-text router understands («я забыла
    пароль», «позовите оператора») is a request, not a password (real ones rarely have spaces);
    any other text, even one starting with "/", is the password."""

    async def on_value(message: Message, manager: DialogManager, password: str) -> None:
        if " " in password.strip() and await handle_free_text(message, manager):
            return
        await on_password(message, manager, password)

    return text_input(widget_id, parse_password, on_value, widget=PasswordInput)  # type: ignore[return-value]
