"""What a dialog handler reads from its DialogManager: the clock, the teacher, the step, and the
dependencies the dispatcher injects (`linking`, `sessions`, `bot`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram_dialog import DialogManager

from services.linking_client import LinkingClient
from services.storage.link_sessions import LinkSessionRepository


def now(manager: DialogManager) -> datetime:
    """The bot's clock (a FakeClock in tests, shared with the backend)."""
    clock = manager.middleware_data.get("clock")
    return clock.now() if clock is not None else datetime.now(UTC)


def user_id_of(manager: DialogManager) -> int:
    return manager.event.from_user.id  # type: ignore[union-attr]


def step_name(manager: DialogManager) -> str:
    """`"<StatesGroup>:<state>"` of the window on screen, e.g. "Link:code"."""
    return manager.current_context().state.state  # type: ignore[return-value]


def scenario_of(manager: DialogManager) -> str | None:
    """The backend's scenario as the current dialog knows it (None before the phone)."""
    start = manager.start_data if isinstance(manager.start_data, dict) else {}
    return manager.dialog_data.get("scenario") or start.get("scenario")


def linking_of(manager: DialogManager) -> LinkingClient:
    return manager.middleware_data["linking"]


def sessions_of(manager: DialogManager) -> LinkSessionRepository | None:
    return manager.middleware_data.get("sessions")


def bot_of(manager: DialogManager) -> Bot:
    return manager.middleware_data["bot"]


def start_data_of(manager: DialogManager) -> dict[str, Any]:
    data = manager.start_data
    return data if isinstance(data, dict) else {}
