"""/language: Russian (default) or English, remembered for the teacher."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager, ShowMode

from bot.i18n import CatalogI18n
from bot.middlewares.i18n import UserLocaleMiddleware
from services.storage.link_sessions import LinkSessionRepository

LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}
PREFIX = "lang:"


async def on_language(message: Message) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=name, callback_data=PREFIX + code)
                for code, name in LANGUAGE_NAMES.items()
            ]
        ]
    )
    await message.answer(_("Choose the language / Выберите язык:"), reply_markup=keyboard)


async def on_language_chosen(
    callback: CallbackQuery,
    dialog_manager: DialogManager,
    sessions: LinkSessionRepository,
    i18n: CatalogI18n,
    locale_middleware: UserLocaleMiddleware,
) -> None:
    locale = (callback.data or "").removeprefix(PREFIX)
    if locale not in LANGUAGE_NAMES:  # forged data
        await callback.answer()
        return
    await sessions.set_locale(callback.from_user.id, locale, callback.from_user.first_name)
    await locale_middleware.remember(callback.from_user.id, locale)
    with i18n.use_locale(locale):
        await callback.answer()
        if isinstance(callback.message, Message):  # not too old to edit
            await callback.message.edit_text(
                _("Language: {name}").format(name=LANGUAGE_NAMES[locale])
            )
        if dialog_manager.has_context():
            # The step she was at, now in the chosen language.
            await dialog_manager.show(ShowMode.SEND)


def create_language_router() -> Router:
    router = Router(name="language")
    router.message.register(on_language, Command("language"), F.chat.type == "private")
    router.callback_query.register(on_language_chosen, F.data.startswith(PREFIX))
    return router
