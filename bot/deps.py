"""What every handler may read from aiogram's data: the dispatcher's workflow data (set by
`bot.app.build_dispatcher`) and what aiogram and our middlewares add per update.

One typed mapping instead of string look-ups: `deps(manager)["linking"]` is a LinkingClient to
the type checker. Keys marked optional are absent when that part is not configured.
"""

from __future__ import annotations

from typing import TypedDict, cast

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import Chat, User
from aiogram_dialog import BgManagerFactory, DialogManager

from bot.admin_alerts import AdminAlerts
from bot.config import Settings
from bot.countdowns import CountdownTicker
from bot.helpdesk.relay import HelpdeskRelay
from bot.i18n import CatalogI18n
from bot.pictures import PictureSender
from services.clock import Clock
from services.linking_client import LinkingClient
from services.storage.link_sessions import LinkSessionRepository


class Deps(TypedDict, total=False):
    # Workflow data (bot/app.py), present in every update.
    settings: Settings
    linking: LinkingClient  # the teacher's own view once EndUserMiddleware ran
    sessions: LinkSessionRepository
    clock: Clock
    admin_alerts: AdminAlerts
    i18n: CatalogI18n
    bg_factory: BgManagerFactory
    countdowns: CountdownTicker
    # Optional parts.
    helpdesk: HelpdeskRelay  # when a helpdesk group is configured
    pictures: PictureSender  # when step pictures are sent
    typing_after: float  # seconds before «печатает…» (tests set 0)
    # Added by aiogram per update.
    bot: Bot
    event_chat: Chat
    event_from_user: User
    state: FSMContext
    fsm_storage: BaseStorage


def deps(manager: DialogManager) -> Deps:
    """The typed view of `manager.middleware_data`."""
    return cast(Deps, manager.middleware_data)
