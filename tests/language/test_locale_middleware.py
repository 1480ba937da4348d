"""The locale middleware sets the teacher's language for the handler only, as aiogram's does."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from aiogram.types import User
from aiogram.utils.i18n import I18n, gettext

from bot.i18n import create_i18n
from bot.middlewares.i18n import UserLocaleMiddleware


class _Sessions:
    async def get_locale(self, user_id: int) -> str:
        return "en"


async def _run_in_fresh_context(fail: bool) -> None:
    i18n = create_i18n()
    middleware = UserLocaleMiddleware(i18n, _Sessions())  # type: ignore[arg-type]
    data: dict = {"event_from_user": User(id=7, is_bot=False, first_name="T")}
    seen: list[str] = []

    async def handler(event: object, handler_data: dict) -> str:
        seen.append(gettext("Step {k} of {n}"))
        assert handler_data["i18n"] is i18n and handler_data["i18n_middleware"] is middleware
        if fail:
            raise RuntimeError("handler failed")
        return "done"

    if fail:
        with pytest.raises(RuntimeError):
            await middleware(handler, object(), data)
    else:
        assert await middleware(handler, object(), data) == "done"
    assert seen == ["Step {k} of {n}"]  # English inside
    assert I18n.get_current() is None  # nothing left set after it
    assert i18n.current_locale == "ru"


@pytest.mark.parametrize("fail", [False, True])
async def test_language_for_the_handler_only(fail: bool) -> None:
    # A context with no I18n set yet, as a polling task's.
    task = asyncio.get_running_loop().create_task(
        _run_in_fresh_context(fail), context=contextvars.Context()
    )
    await task
