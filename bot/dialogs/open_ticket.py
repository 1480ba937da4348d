"""The helpdesk ticket a teacher keeps open while she goes on linking, and the contact keyboard
that must not stand in her way while she talks to a person.

«Вернуться к боту» leaves the ticket open: the specialist can still answer (answers arrive in
her chat as they come) and every step window offers «✍️ Написать специалисту», which brings the
conversation back. Both facts live in the teacher's own FSM data — the record aiogram reads on
every update anyway — so following her across dialogs costs no extra storage call; the ticket is
checked against the tickets table only while one is remembered, and forgotten once it is closed.
"""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram_dialog import DialogManager

from bot.deps import deps

OPEN_TICKET = "open_ticket"
CONTACT_KEYBOARD = "contact_keyboard"


def _state(manager: DialogManager) -> FSMContext | None:
    """Her FSM context; background renders (a countdown's tick) get none from aiogram, so it is
    made from the storage and the event's chat and user, as aiogram would make it."""
    data = deps(manager)
    state = data.get("state")
    if isinstance(state, FSMContext):
        return state
    storage, chat, user = (
        data.get("fsm_storage"),
        data.get("event_chat"),
        data.get("event_from_user"),
    )
    if storage is None or chat is None or user is None:
        return None
    key = StorageKey(bot_id=data["bot"].id, chat_id=chat.id, user_id=user.id)
    return FSMContext(storage=storage, key=key)


async def _get(manager: DialogManager, key: str) -> Any:
    state = _state(manager)
    return (await state.get_data()).get(key) if state is not None else None


async def _set(manager: DialogManager, key: str, value: Any) -> None:
    state = _state(manager)
    if state is not None:
        await state.update_data({key: value})


async def remember_open_ticket(manager: DialogManager, ticket_id: int) -> None:
    await _set(manager, OPEN_TICKET, ticket_id)


async def forget_open_ticket(manager: DialogManager) -> None:
    if await _get(manager, OPEN_TICKET) is not None:
        await _set(manager, OPEN_TICKET, None)


async def open_ticket_id(manager: DialogManager) -> int | None:
    """The teacher's ticket if it is still open (the operator may have closed it meanwhile)."""
    ticket_id = await _get(manager, OPEN_TICKET)
    if ticket_id is None:
        return None
    relay = deps(manager).get("helpdesk")
    tickets = getattr(relay, "tickets", None)
    ticket = await tickets.get(ticket_id) if tickets is not None else None
    if ticket is None or not ticket.is_open:
        await forget_open_ticket(manager)
        return None
    return ticket_id


async def set_contact_keyboard(manager: DialogManager, shown: bool) -> None:
    """Note whether «📱 Отправить мой номер» is under the input field now."""
    await _set(manager, CONTACT_KEYBOARD, shown)


async def contact_keyboard_shown(manager: DialogManager) -> bool:
    return bool(await _get(manager, CONTACT_KEYBOARD))
