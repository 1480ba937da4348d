"""aiogram-dialog text widgets whose text lives in the gettext catalogs.

The msgid is passed as the first argument, so `pybabel extract -k I18nFormat -k I18nConst` finds it;
translation happens at render time, in the teacher's locale set by the i18n middleware.
"""

from __future__ import annotations

from typing import Any

from aiogram_dialog.api.protocols import DialogManager
from aiogram_dialog.widgets.common import WhenCondition
from aiogram_dialog.widgets.text import Text

from bot.i18n import translate


class _Missing(dict):
    """format_map data that leaves unknown placeholders visible instead of raising KeyError."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class I18nConst(Text):
    """A fixed text, translated."""

    def __init__(self, msgid: str, when: WhenCondition = None) -> None:
        super().__init__(when=when)
        self.msgid = msgid

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        return translate(self.msgid)


class I18nFormat(Text):
    """A translated text with `{placeholders}` filled from the window's getter data."""

    def __init__(self, msgid: str, when: WhenCondition = None) -> None:
        super().__init__(when=when)
        self.msgid = msgid

    async def _render_text(self, data: dict[str, Any], manager: DialogManager) -> str:
        return translate(self.msgid).format_map(_Missing(data))
