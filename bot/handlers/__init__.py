"""Plain routers, built fresh on each call. Order matters: the teacher fallback stays last."""

from __future__ import annotations

from aiogram import Router

from bot.handlers.admin import create_admin_router
from bot.handlers.fallback import create_fallback_router
from bot.handlers.helpdesk import create_helpdesk_router
from bot.handlers.language import create_language_router
from bot.handlers.stale_buttons import create_old_window_router
from bot.handlers.start import create_start_router


def get_routers() -> list[Router]:
    return [
        create_helpdesk_router(),  # first: the helpdesk chat never reaches teacher handlers
        create_start_router(),
        create_old_window_router(),  # before the dialogs: an earlier copy never acts
        create_language_router(),
        create_admin_router(),
        create_fallback_router(),
    ]
