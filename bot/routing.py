"""The dispatch path from `Dispatcher.feed_update` to the handler, without visits that cannot match.

aiogram tries the Dispatcher's routers one by one for every update (aiogram/dispatcher/router.py,
`Router._propagate_event`), and each visit costs its outer-middleware wrapping (`functools.wraps`
and a partial), the root filters and the handler loop even when the router has nothing for the
update's type. The bot has eight routers and seven aiogram-dialog dialogs in that chain, and a
teacher's message or button walked through ~14 of them before its window took it.
Two rules here remove the visits whose outcome is known beforehand, leaving the outcome alone:

- `DialogSwitch` holds the dialogs. aiogram-dialog's `Dialog` router filters every one of its
  observers on the intent's state group (`IntentFilter`: `aiogd_context.state.group` is the
  dialog's), and two dialogs never share a group (aiogram-dialog's registry refuses it), so at
  most one dialog can take an update: the one of the current context's group. The switch goes
  straight to it (a dict look-up) — or to none, when there is no context or no dialog of its
  group, which is what trying each in turn gave (every filter false → unhandled, the next router
  after the dialogs, the fallback, answers).
- `BotDispatcher` skips, per update type, the routers that cannot take it: no handler of that
  type and no outer middleware for it anywhere in the router's subtree (e.g. the errors router
  for a message, the admin router for a button). Such a visit could only ever return
  "unhandled": root filters decide nothing without a handler under them, and inner middlewares
  run only around a handler. Routers keep their order; only the futile visits go.

Both check their preconditions and fall back to aiogram's own walk where they do not hold (an
outer middleware or an extra root filter on a dialog, handlers on the switch itself).
The table of which routers can take which type is built on the first update of each type and
dropped when a router is included; handlers are registered before the first update.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.bases import REJECTED, UNHANDLED
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.fsm.state import StatesGroup
from aiogram.types import TelegramObject
from aiogram_dialog import Dialog
from aiogram_dialog.api.internal import CONTEXT_KEY
from aiogram_dialog.context.intent_filter import IntentFilter

DIALOGS_ROUTER_NAME = "dialogs"


def _observer_takes(observer: TelegramEventObserver | None) -> bool:
    """Whether visiting this observer can do anything: a handler to call, a middleware to run."""
    return observer is not None and bool(observer.handlers or len(observer.outer_middleware))


def can_take(router: Router, update_type: str) -> bool:
    """False only when visiting `router` with an update of this type is sure to be unhandled."""
    if _observer_takes(router.observers.get(update_type)):
        return True
    return any(can_take(child, update_type) for child in router.sub_routers)


def _only_intent_filter(dialog: Dialog) -> bool:
    """The dialog's visit is decided by its state group alone (as aiogram-dialog sets it up)."""
    for observer in dialog.observers.values():
        if len(observer.outer_middleware):
            return False
        filters = observer._handler.filters or []
        if len(filters) != 1:
            return False
        intent = filters[0].callback
        if not isinstance(intent, IntentFilter) or (
            intent.aiogd_intent_state_group is not dialog.states_group()
        ):
            return False
    return not dialog.sub_routers


class DialogSwitch(Router):
    """The dialogs under one router that hands an update to its context's dialog only."""

    def __init__(self, dialogs: Iterable[Dialog], *, name: str = DIALOGS_ROUTER_NAME) -> None:
        super().__init__(name=name)
        self._by_group: dict[type[StatesGroup], Dialog] | None = None
        for dialog in dialogs:
            self.include_router(dialog)

    def include_router(self, router: Router) -> Router:
        if not isinstance(router, Dialog):
            raise TypeError(f"DialogSwitch holds dialogs only, not {router!r}")
        self._by_group = None
        return super().include_router(router)

    def _table(self) -> dict[type[StatesGroup], Dialog] | None:
        """Dialogs by state group, or None when aiogram's walk must decide (preconditions)."""
        if any(_observer_takes(o) or o._handler.filters for o in self.observers.values()):
            return None
        dialogs = [router for router in self.sub_routers if isinstance(router, Dialog)]
        if not all(_only_intent_filter(dialog) for dialog in dialogs):
            return None
        return {dialog.states_group(): dialog for dialog in dialogs}

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        if self._by_group is None:
            table = self._table()
            if table is None:
                return await super().propagate_event(update_type, event, **kwargs)
            self._by_group = table
        context = kwargs.get(CONTEXT_KEY)
        if not context:
            return UNHANDLED
        dialog = self._by_group.get(context.state.group)
        if dialog is None:
            return UNHANDLED
        return await dialog.propagate_event(update_type=update_type, event=event, **kwargs)


class BotDispatcher(Dispatcher):
    """A Dispatcher that visits, for each update type, only the routers that can take it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._routes: dict[str, tuple[Router, ...]] = {}

    def include_router(self, router: Router) -> Router:
        self._routes.clear()
        return super().include_router(router)

    def routes(self, update_type: str) -> tuple[Router, ...]:
        """The sub-routers an update of this type visits, in order."""
        routes = self._routes.get(update_type)
        if routes is None:
            routes = tuple(r for r in self.sub_routers if can_take(r, update_type))
            self._routes[update_type] = routes
        return routes

    async def _propagate_event(
        self,
        observer: TelegramEventObserver | None,
        update_type: str,
        event: TelegramObject,
        **kwargs: Any,
    ) -> Any:
        # aiogram's Router._propagate_event, with `routes(update_type)` for `sub_routers`.
        response = UNHANDLED
        if observer:
            result, data = await observer.check_root_filters(event, **kwargs)
            if not result:
                return UNHANDLED
            kwargs.update(data)

            response = await observer.trigger(event, **kwargs)
            if response is REJECTED:  # pragma: no cover
                return UNHANDLED
            if response is not UNHANDLED:
                return response

        for router in self.routes(update_type):
            response = await router.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                break

        return response
