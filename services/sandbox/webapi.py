"""The browser's own API: live world events (SSE), acting as teachers and operators, the phone,
and the e-journal's demo teachers.

Routes live under `/api/` and accept only the page's own same-origin JSON requests
(`services/sandbox/guard.py`); the page itself (`web/`) is served from `/`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import typing
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, get_args

from aiohttp import web

from services.linking_client import DemoCase, LinkingClient, LinkingError, NotFound
from services.sandbox.botapi import BotApiError, TelegramWorld
from services.sandbox.botapi.commands import language_key
from services.sandbox.botapi.faults import Fault
from services.sandbox.guard import allowed_hosts, same_origin_guard
from services.sandbox.journal_window import JournalWindow
from services.sandbox.people import Cast

logger = logging.getLogger(__name__)
WEB_DIR = Path(__file__).parent / "web"
SSE_KEEPALIVE_SECONDS = 15.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _guarded(handler: Handler) -> Handler:
    """Turn refusals of the world or the backend into JSON errors the page can show."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except BotApiError as error:
            return _error(error.error_code, error.description)
        except LinkingError as error:
            return _error(502, f"backend: {error.code}: {error.detail}")
        except (KeyError, ValueError, TypeError) as error:
            return _error(400, f"bad request: {error}")

    return wrapper


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ValueError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


CASES: tuple[str, ...] = get_args(DemoCase)


class BrowserApi:
    """Handlers behind the page: everything a person can do in the four panes."""

    def __init__(self, world: TelegramWorld, cast: Cast, backend: LinkingClient):
        self.world = world
        self.cast = cast
        self.backend = backend

    async def state(self) -> dict[str, Any]:
        try:
            await self._refresh_teachers()
        except LinkingError as error:  # the page still draws; link states may be stale
            logger.warning("sandbox could not read the demo teachers: %s", error.code)
        return {
            "type": "state",
            "world": self.world.snapshot(),
            "teachers": self._teachers_json(),
            "cases": list(CASES),
            "operators": self.cast.operators,
            "helpdesk_chat_id": self.cast.helpdesk_chat_id,
        }

    def _teachers_json(self) -> list[dict[str, Any]]:
        return [t.as_json() for t in self.cast.teachers]

    async def _refresh_teachers(self) -> None:
        """The e-journal reads link states (and known passwords) from the backend."""
        self.cast.refresh(await self.backend.dev_accounts())

    def _publish_teachers(self) -> None:
        self.world.events.publish({"type": "teachers", "teachers": self._teachers_json()})

    async def get_state(self, request: web.Request) -> web.Response:
        return web.json_response(await self.state())

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: the full state first, then every change as it happens."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        with self.world.events.subscribe() as queue:
            event: dict[str, Any] | None = await self.state()
            try:
                while True:
                    if event is None:
                        await response.write(b": keepalive\n\n")
                    else:
                        payload = json.dumps(event, ensure_ascii=False)
                        await response.write(f"data: {payload}\n\n".encode())
                    try:
                        event = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_SECONDS)
                    except TimeoutError:
                        event = None
                    if event is not None and event["type"] == "closed":
                        break
            except (ConnectionResetError, ConnectionError):
                pass
        return response

    async def send_text(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        message = self.world.user_sends_text(
            int(body["user_id"]),
            str(body["text"]),
            chat_id=_optional_int(body.get("chat_id")),
            thread_id=_optional_int(body.get("message_thread_id")),
            reply_to_message_id=_optional_int(body.get("reply_to_message_id")),
        )
        return web.json_response(message)

    async def edit_text(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        message = self.world.user_edits_text(
            int(body["user_id"]),
            int(body["message_id"]),
            str(body["text"]),
            chat_id=_optional_int(body.get("chat_id")),
        )
        return web.json_response(message)

    async def share_contact(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return web.json_response(self.world.user_shares_contact(int(body["user_id"])))

    async def press_button(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        query = self.world.user_presses_button(
            int(body["user_id"]), int(body["chat_id"]), int(body["message_id"]), str(body["data"])
        )
        return web.json_response({"query_id": query["id"]})

    async def upload(self, request: web.Request) -> web.Response:
        """A photo or file from the composer, as JSON with the bytes in base64."""
        body = await _json_body(request)
        try:
            data = base64.b64decode(str(body["data"]), validate=True)
        except binascii.Error:
            raise ValueError("`data` must be base64") from None
        mime_type = str(body.get("mime_type") or "application/octet-stream")
        kind = "photo" if mime_type in {"image/jpeg", "image/png", "image/gif"} else "document"
        message = self.world.user_sends_file(
            int(body["user_id"]),
            kind=kind,
            data=data,
            filename=str(body.get("filename") or "file"),
            mime_type=mime_type,
            caption=str(body.get("caption") or "") or None,
            chat_id=_optional_int(body.get("chat_id")),
            thread_id=_optional_int(body.get("message_thread_id")),
        )
        return web.json_response(message)

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.world.files.get(request.match_info["file_id"])
        if stored is None:
            return _error(404, "no such file")
        disposition = "inline" if stored.mime_type.startswith("image/") else "attachment"
        return web.Response(
            body=stored.data,
            content_type=stored.mime_type,
            headers={
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{stored.filename}",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # ---- MESH e-journal and the phone -------------------------------------------------------

    async def teachers(self, request: web.Request) -> web.Response:
        await self._refresh_teachers()
        return web.json_response(self._teachers_json())

    async def new_teacher(self, request: web.Request) -> web.Response:
        """«+ Новый учитель»: a fresh demo teacher of the chosen case, a new Telegram user."""
        case = str((await _json_body(request))["case"])
        if case not in CASES:
            raise ValueError(f"unknown case {case!r}")
        account = await self.backend.dev_create_account(typing.cast(DemoCase, case))
        teacher = self.cast.add(self.world, account)
        self._publish_teachers()
        return web.json_response(teacher.as_json())

    async def reset_demo(self, request: web.Request) -> web.Response:
        """«Сбросить демо»: a fresh teacher of every case replaces the e-journal's list.

        Nothing is deleted: earlier teachers keep their chats, tickets and backend state (the bot
        may be mid-conversation with them); they just leave the e-journal.
        """
        await _json_body(request)
        accounts = [await self.backend.dev_create_account(typing.cast(DemoCase, c)) for c in CASES]
        self.cast.replace(self.world, accounts)
        self._publish_teachers()
        return web.json_response(self._teachers_json())

    async def connect(self, request: web.Request) -> web.Response:
        """«Перейти к подключению»: a fresh deep link, opened by that teacher in Telegram."""
        teacher = self.cast.teacher(mesh_account_id=request.match_info["mesh_account_id"])
        token = await self.backend.dev_link_token(teacher.mesh_account_id)
        payload = token.deep_link_payload or token.token
        message = self.world.user_sends_text(teacher.user_id, f"/start {payload}")
        return web.json_response({"user_id": teacher.user_id, "message": message})

    async def phone(self, request: web.Request) -> web.Response:
        """The teacher's phone: SMS, call-resets, e-mails (newest first), the TOTP code, and
        the VK ID password she knows now."""
        teacher = self.cast.teacher(user_id=int(request.match_info["user_id"]))
        teacher.update(await self.backend.dev_account(teacher.mesh_account_id))
        items = [asdict(item) for item in await self.backend.dev_inbox(teacher.phone)]
        if teacher.email:
            items += [asdict(item) for item in await self.backend.dev_mailbox(teacher.email)]
        items += await self._friends_codes(teacher.phone)
        for item in items:
            item["at"] = item["at"].isoformat()
        items.sort(key=lambda item: item["at"], reverse=True)
        totp = await self.backend.dev_totp(teacher.phone) if teacher.authenticator_app else None
        return web.json_response({"teacher": teacher.as_json(), "messages": items, "totp": totp})

    async def _friends_codes(self, phone: str) -> list[dict[str, Any]]:
        """What reached her trusted friends, each item named after its friend: in the sandbox
        the teacher "asks" them by looking here."""
        try:
            friends = await self.backend.dev_friends(phone)
        except NotFound:  # no VK ID on this number (yet)
            return []
        return [{**asdict(item), "friend": f.name} for f in friends for item in f.inbox]

    async def commands(self, request: web.Request) -> web.Response:
        """The bot's command menu as this person's Telegram shows it on «/» in this chat."""
        user_id = int(request.query["user_id"])
        chat_id = int(request.query.get("chat_id") or user_id)
        chat = self.world.chats.get(chat_id)
        status = chat.members.get(user_id) if chat is not None else None
        menu = self.world.commands.for_person(
            chat_id,
            user_id,
            language_key(request.query.get("language")),
            private=chat_id == user_id,
            admin=status in {"creator", "administrator"},
        )
        return web.json_response(menu)

    async def set_vpn(self, request: web.Request) -> web.Response:
        teacher = self.cast.teacher(user_id=int(request.match_info["user_id"]))
        body = await _json_body(request)
        teacher.vpn = await self.backend.dev_set_vpn(
            enabled=bool(body["enabled"]), mesh_account_id=teacher.mesh_account_id
        )
        return web.json_response({"enabled": teacher.vpn})

    # ---- fault injection ----------------------------------------------------------------------

    async def faults(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await _json_body(request)
            self.world.faults.add(Fault(**body))
        elif request.method == "DELETE":
            self.world.faults.clear()
        return web.json_response(self.world.faults.describe())


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "index.html")


def add_browser_routes(
    app: web.Application,
    world: TelegramWorld,
    cast: Cast,
    backend: LinkingClient,
    *,
    bind_host: str = "127.0.0.1",
) -> BrowserApi:
    """Mount the page and its API on `app` (the same application that serves the Bot API).

    `bind_host` is the address the server listens on: it decides which Host names are accepted.
    """
    app.middlewares.append(same_origin_guard(allowed_hosts(bind_host)))
    api = BrowserApi(world, cast, backend)
    window = JournalWindow(backend)
    routes = [
        ("GET", "/api/state", api.get_state),
        ("GET", "/api/events", api.events),
        ("POST", "/api/messages", api.send_text),
        ("POST", "/api/messages/edit", api.edit_text),
        ("POST", "/api/contact", api.share_contact),
        ("POST", "/api/callback", api.press_button),
        ("POST", "/api/files", api.upload),
        ("GET", "/api/files/{file_id}", api.file),
        ("GET", "/api/teachers", api.teachers),
        ("POST", "/api/teachers", api.new_teacher),
        ("POST", "/api/demo/reset", api.reset_demo),
        ("GET", "/api/commands", api.commands),
        ("POST", "/api/teachers/{mesh_account_id}/connect", api.connect),
        ("GET", "/api/phone/{user_id}", api.phone),
        ("POST", "/api/phone/{user_id}/vpn", api.set_vpn),
        ("POST", "/api/journal/{mesh_account_id}/window", window.handle),
        ("GET", "/api/faults", api.faults),
        ("POST", "/api/faults", api.faults),
        ("DELETE", "/api/faults", api.faults),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guarded(handler))
    app.router.add_get("/", _index)
    app.router.add_static("/static/", WEB_DIR, show_index=False)
    return api
