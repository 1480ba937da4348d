"""Every dialog of the bot, built fresh on each call (a Router belongs to one Dispatcher only)."""

from __future__ import annotations

from aiogram_dialog import Dialog

from bot.dialogs.guide import create_guide_dialog
from bot.dialogs.handoff import create_handoff_dialog
from bot.dialogs.help import create_help_dialog
from bot.dialogs.link import create_link_dialog
from bot.dialogs.onboarding import create_onboarding_dialog
from bot.dialogs.recovery import create_recovery_dialog


def get_dialogs() -> list[Dialog]:
    return [
        create_onboarding_dialog(),
        create_link_dialog(),
        create_recovery_dialog(),
        create_guide_dialog(),
        create_help_dialog(),
        create_handoff_dialog(),
    ]
