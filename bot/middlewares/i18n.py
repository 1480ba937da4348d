"""Per-teacher language: the one she chose with /language, Russian until then.

Registered after `setup_dialogs`, on every observer of the dispatcher including aiogram-dialog's
background-update observer, so windows re-rendered from the background speak her language too.
The cache in front of the database is per process, or shared through Redis by replicas
(bot/shared_state/locale_cache.py), so a choice made on one replica is seen by all at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.shared_state.locale_cache import LocaleCache, MemoryLocaleCache
from services.storage.link_sessions import LinkSessionRepository


class UserLocaleMiddleware(I18nMiddleware):
    """Locale from `sessions.get_locale(user_id)`, behind a `LocaleCache`."""

    def __init__(
        self, i18n: I18n, sessions: LinkSessionRepository, cache: LocaleCache | None = None
    ) -> None:
        super().__init__(i18n=i18n)
        self.sessions = sessions
        self.cache: LocaleCache = cache or MemoryLocaleCache()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        # aiogram's I18nMiddleware.__call__ without its two context managers (per update):
        # the same data keys, the same two context variables set for the handler and reset.
        # I18n.set_current on the base class: aiogram's ContextInstanceMixin keeps one context
        # variable per class, and `gettext` asks I18n.get_current().
        locale = await self.get_locale(event=event, data=data) or self.i18n.default_locale
        if self.i18n_key:
            data[self.i18n_key] = self.i18n
        if self.middleware_key:
            data[self.middleware_key] = self
        i18n_token = I18n.set_current(self.i18n)
        locale_token = self.i18n.ctx_locale.set(locale)
        try:
            return await handler(event, data)
        finally:
            self.i18n.ctx_locale.reset(locale_token)
            I18n.reset_current(i18n_token)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user") or getattr(event, "from_user", None)
        if user is None:
            return self.i18n.default_locale
        cached = await self.cache.get(user.id)
        if cached is not None:
            return cached
        stored = await self.sessions.get_locale(user.id)
        locale = stored if stored in self.i18n.available_locales else self.i18n.default_locale
        await self.cache.put(user.id, locale)
        return locale

    async def remember(self, user_id: int, locale: str) -> None:
        """Update the cache (every replica's) after the teacher chose a language."""
        await self.cache.put(user_id, locale)
