"""Translations straight from the Babel catalogs: `.po` files are compiled in memory at start-up.

Keeping no compiled `.mo` in the repository means a catalog can never be stale against its source.
"""

from __future__ import annotations

import contextlib
import gettext
import io
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SUPPORTED_LOCALES = ("ru", "en")


class CatalogI18n(I18n):
    """aiogram's I18n that reads `<locale>/LC_MESSAGES/messages.po` instead of `.mo`."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for locale_dir in sorted(self.path.iterdir()):
            po_path = locale_dir / "LC_MESSAGES" / f"{self.domain}.po"
            if not po_path.is_file():
                continue
            with po_path.open("rb") as po_file:
                catalog = read_po(po_file, locale=locale_dir.name)
            compiled = io.BytesIO()
            write_mo(compiled, catalog, use_fuzzy=False)
            compiled.seek(0)
            translations[locale_dir.name] = gettext.GNUTranslations(compiled)
        return translations


# aiogram's ContextInstanceMixin gives every subclass its own context variable, while `gettext`
# asks `I18n.get_current()`: share the base class's slot so this subclass is the one it finds.
CatalogI18n._ContextInstanceMixin__context_instance = I18n._ContextInstanceMixin__context_instance  # type: ignore[attr-defined]
_CURRENT_I18N: ContextVar[I18n] = I18n._ContextInstanceMixin__context_instance  # type: ignore[attr-defined]


def translate(msgid: str) -> str:
    """aiogram's `gettext(msgid)` in one call: the same two context variables (the current I18n,
    its locale), read directly.

    aiogram's goes through four Python functions per text, and its `I18n.get_current` writes a
    class attribute each time (which also drops CPython's attribute caches for I18n); a window
    renders ~6 texts per update.
    """
    i18n = _CURRENT_I18N.get(None)
    if i18n is None:
        raise LookupError("I18n context is not set")
    translator = i18n.locales.get(i18n.ctx_locale.get())
    return msgid if translator is None else translator.gettext(msgid)


def create_i18n(default_locale: str = "ru") -> CatalogI18n:
    return CatalogI18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


@contextlib.contextmanager
def use_i18n(i18n: I18n, locale: str) -> Iterator[None]:
    """Make aiogram's `gettext` speak `locale` outside a locale middleware.

    `I18n.set_current` on the base class: a subclass's own `.context()` sets a different context
    variable than the one aiogram's `gettext` reads.
    """
    token = I18n.set_current(i18n)
    try:
        with i18n.use_locale(locale):
            yield
    finally:
        I18n.reset_current(token)
