"""What a dialog handler reads from its DialogManager: the clock, the teacher, the step, and the
dependencies the dispatcher injects (`linking`, `sessions`, `bot`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.types import User
from aiogram_dialog import DialogManager

from bot.deps import deps
from services.linking_client import LinkingClient
from services.storage.link_sessions import LinkSessionRepository


def now(manager: DialogManager) -> datetime:
    """The bot's clock (a FakeClock in tests, shared with the backend)."""
    clock = deps(manager).get("clock")
    return clock.now() if clock is not None else datetime.now(UTC)


def user_of(manager: DialogManager) -> User:
    """The teacher whose event this is (every dialog event has one; an error event is not
    handled by dialogs)."""
    user: User | None = getattr(manager.event, "from_user", None)
    assert user is not None
    return user


def user_id_of(manager: DialogManager) -> int:
    return user_of(manager).id


def step_name(manager: DialogManager) -> str:
    """`"<StatesGroup>:<state>"` of the window on screen, e.g. "Link:code"."""
    return str(manager.current_context().state.state)


def scenario_of(manager: DialogManager) -> str | None:
    """The backend's scenario as the current dialog knows it (None before the phone)."""
    start = manager.start_data if isinstance(manager.start_data, dict) else {}
    return manager.dialog_data.get("scenario") or start.get("scenario")


def linking_of(manager: DialogManager) -> LinkingClient:
    return deps(manager)["linking"]


def sessions_of(manager: DialogManager) -> LinkSessionRepository | None:
    return deps(manager).get("sessions")


def bot_of(manager: DialogManager) -> Bot:
    return deps(manager)["bot"]


def start_data_of(manager: DialogManager) -> dict[str, Any]:
    data = manager.start_data
    return data if isinstance(data, dict) else {}
