"""The Bot API over HTTP: `/bot<token>/<method>` and `/file/bot<token>/<path>`."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import BodyPartReader, web

from services.sandbox.botapi.errors import NOT_FOUND, UNAUTHORIZED, BotApiError, bad_request
from services.sandbox.botapi.faults import BAD_GATEWAY_HTML, BadGateway
from services.sandbox.botapi.methods import BotApiMethods
from services.sandbox.botapi.params import Params, Upload
from services.sandbox.botapi.webhook import WebhookDelivery
from services.sandbox.botapi.world import TelegramWorld

logger = logging.getLogger(__name__)
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # Telegram's limit for bots' uploads

WORLD_KEY = web.AppKey("telegram_world", TelegramWorld)
METHODS_KEY = web.AppKey("botapi_methods", BotApiMethods)
DELIVERY_KEY = web.AppKey("webhook_delivery", WebhookDelivery)


def _envelope(error: BotApiError) -> web.Response:
    return web.json_response(error.envelope(), status=error.error_code)


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    fields: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is not None:
            uploads[part.name] = Upload(
                filename=part.filename,
                content_type=part.headers.get("Content-Type", "application/octet-stream"),
                data=bytes(await part.read()),
            )
        else:
            fields[part.name] = await part.text()
    return fields, uploads


async def read_params(request: web.Request) -> Params:
    """Parameters from the query string plus a JSON, form-encoded or multipart body."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = json.loads(await request.text() or "{}")
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON object")
            raw.update(body)
        elif content_type.startswith("multipart/"):
            fields, uploads = await _read_multipart(request)
            raw.update(fields)
        else:
            raw.update(await request.post())
    return Params(raw, uploads)


def create_botapi_app(world: TelegramWorld, app: web.Application | None = None) -> web.Application:
    """Routes of the Bot API server for `world`, added to `app` (or to a new application)."""
    app = app or web.Application(client_max_size=MAX_UPLOAD_BYTES)
    methods = BotApiMethods(world)
    delivery = WebhookDelivery(world, methods)
    app[WORLD_KEY] = world
    app[METHODS_KEY] = methods
    app[DELIVERY_KEY] = delivery

    async def call_method(request: web.Request) -> web.StreamResponse:
        method_name = request.match_info["method"]
        try:
            if request.match_info["token"] != world.token:
                raise UNAUTHORIZED
            method = methods.lookup(method_name)
            if method is None:
                raise NOT_FOUND
            params = await read_params(request)
            await world.faults.apply(method_name.lower())
            result = await method(params)
        except BotApiError as error:
            if error.error_code >= 500 or error.error_code == 429:
                logger.info("sandbox fault on %s: %s", method_name, error.description)
            return _envelope(error)
        except BadGateway:
            return web.Response(status=502, text=BAD_GATEWAY_HTML, content_type="text/html")
        return web.json_response({"ok": True, "result": result})

    async def download_file(request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != world.token:
            return _envelope(UNAUTHORIZED)
        stored = world.files.by_path(request.match_info["path"])
        if stored is None:
            return _envelope(NOT_FOUND)
        return web.Response(body=stored.data, content_type=stored.mime_type)

    async def release_waiters(app: web.Application) -> None:
        # Long polls and event streams would otherwise hold the shutdown until they time out.
        world.updates.close()
        world.events.close()
        world.faults.release_all()

    async def start_delivery(app: web.Application) -> None:
        delivery.start()

    async def stop_delivery(app: web.Application) -> None:
        await delivery.stop()

    app.on_startup.append(start_delivery)
    app.on_shutdown.append(release_waiters)
    app.on_cleanup.append(stop_delivery)
    app.router.add_route("*", "/bot{token}/{method}", call_method)
    app.router.add_get("/file/bot{token}/{path:.+}", download_file)
    return app
