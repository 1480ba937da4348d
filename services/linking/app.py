"""`create_app`: the aiohttp application of the simulated linking backend."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Middleware

from services.linking.api import BACKEND, add_routes
from services.linking.backend import build_backend
from services.linking.clock import Clock, SystemClock
from services.linking.db import create_schema
from services.linking.demo import seed_demo
from services.linking.dev_api import add_dev_routes
from services.linking.errors import Unauthorized
from services.linking.settings import LinkingSettings
from services.linking.transport import Handler, error_middleware

logger = logging.getLogger(__name__)


def _api_key_middleware(api_key: str) -> Middleware:
    expected = f"Bearer {api_key}".encode()

    @web.middleware
    async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise Unauthorized()
        return await handler(request)

    return require_api_key


class PathOnlyAccessLogger(AbstractAccessLogger):
    """Access log without query strings: /dev/inbox?phone=… must not leak phones into logs."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1f ms", request.method, request.path, response.status, time * 1000
        )


def create_app(
    settings: LinkingSettings | None = None, *, clock: Clock | None = None, demo: bool = False
) -> web.Application:
    """Build the backend: schema created on startup, demo teachers seeded when `demo`.

    Dev endpoints (/dev/...) exist only with `demo=True`; elsewhere they answer 404.
    """
    settings = settings or LinkingSettings()
    backend = build_backend(settings, clock or SystemClock(), demo=demo)
    middlewares: list[Middleware] = [error_middleware]
    if settings.api_key is not None:
        middlewares.append(_api_key_middleware(settings.api_key.get_secret_value()))
    # The body limit is enforced by our reader too, so an oversized body gets our JSON 413.
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_size)
    app[BACKEND] = backend
    add_routes(app)
    if demo:
        add_dev_routes(app)

    async def on_startup(_app: web.Application) -> None:
        await create_schema(backend.db.engine)
        if demo:
            async with backend.transaction() as (session, now):
                if await seed_demo(session, backend.hashing, now):
                    logger.info("demo teachers seeded")

    async def on_cleanup(_app: web.Application) -> None:
        await backend.db.dispose()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app
