"""Per-teacher language: the one she chose with /language, Russian until then.

Registered after `setup_dialogs`, on every observer of the dispatcher including aiogram-dialog's
background-update observer, so windows re-rendered from the background speak her language too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from services.storage.link_sessions import LinkSessionRepository

CACHE_SIZE = 10_000


class UserLocaleMiddleware(I18nMiddleware):
    """Locale from `sessions.get_locale(user_id)`, cached in-process (bounded LRU)."""

    def __init__(
        self, i18n: I18n, sessions: LinkSessionRepository, cache_size: int = CACHE_SIZE
    ) -> None:
        super().__init__(i18n=i18n)
        self.sessions = sessions
        self.cache_size = cache_size
        self._cache: OrderedDict[int, str] = OrderedDict()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        # aiogram's ContextInstanceMixin keeps one context variable per class, so a subclass
        # of I18n (CatalogI18n) is invisible to `gettext` (which asks I18n.get_current()).
        token = I18n.set_current(self.i18n)
        try:
            return await super().__call__(handler, event, data)
        finally:
            I18n.reset_current(token)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user") or getattr(event, "from_user", None)
        if user is None:
            return self.i18n.default_locale
        cached = self._cache.get(user.id)
        if cached is not None:
            self._cache.move_to_end(user.id)
            return cached
        stored = await self.sessions.get_locale(user.id)
        locale = stored if stored in self.i18n.available_locales else self.i18n.default_locale
        self.remember(user.id, locale)
        return locale

    def remember(self, user_id: int, locale: str) -> None:
        """Update the cache after the teacher chose a language."""
        self._cache[user_id] = locale
        self._cache.move_to_end(user_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
