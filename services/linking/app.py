"""`create_app`: the aiohttp application of the simulated linking backend."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Middleware

from services.clock import Clock, SystemClock
from services.linking.api import BACKEND, JOURNAL_CLIENT, add_routes
from services.linking.backend import Backend, build_backend
from services.linking.budgets import Budgets
from services.linking.db import create_schema
from services.linking.demo import seed_demo
from services.linking.dev_api import add_dev_routes
from services.linking.errors import Unauthorized
from services.linking.flow_events import FlowEvents
from services.linking.settings import LinkingSettings
from services.linking.transport import Handler, error_middleware, route_template

logger = logging.getLogger(__name__)


def _api_key_middleware(api_key: str, journal_key: str | None) -> Middleware:
    expected = f"Bearer {api_key}".encode()
    journal = f"Bearer {journal_key}".encode() if journal_key else None

    @web.middleware
    async def require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v1/"):
            given = request.headers.get("Authorization", "").encode()
            if journal is not None and hmac.compare_digest(given, journal):
                request[JOURNAL_CLIENT] = True  # the e-journal's window (X-Mesh-Account-Id)
            elif not hmac.compare_digest(given, expected):
                raise Unauthorized()
        return await handler(request)

    return require_api_key


class RouteAccessLogger(AbstractAccessLogger):
    """Access log by route template: `POST /v1/flows/{flow_id}/phone 200 3.1 ms`.

    Neither flow or recovery ids (they open a teacher's flow) nor query strings
    (/dev/inbox?phone=…) ever reach the log; a request that matched no route logs as such.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1f ms",
            request.method,
            route_template(request),
            response.status,
            time * 1000,
        )


PRUNE_EVERY = 3600.0


async def _prune_budgets(backend: Backend) -> None:
    """Forget budget events older than any window, now and then every hour."""
    while True:
        try:
            async with backend.transaction() as (session, now):
                pruned = await Budgets.prune(session, now)
                events = await FlowEvents.prune(session, now)
            logger.debug("pruned %d budget events, %d flow events", pruned, events)
        except Exception:  # the database may be away for a while; try again next time
            logger.exception("could not prune budget events")
        await asyncio.sleep(PRUNE_EVERY)


def create_app(
    settings: LinkingSettings | None = None, *, clock: Clock | None = None, demo: bool = False
) -> web.Application:
    """Build the backend: schema created on startup, demo teachers seeded when `demo`.

    Dev endpoints (/dev/...) exist only with `demo=True`; elsewhere they answer 404. Outside
    demo, missing or short secrets raise `InsecureSettings` here, before anything listens.
    """
    settings = settings or LinkingSettings()
    backend = build_backend(settings, clock or SystemClock(), demo=demo)
    middlewares: list[Middleware] = [error_middleware]
    if settings.api_key is not None:
        journal_key = settings.journal_api_key
        middlewares.append(
            _api_key_middleware(
                settings.api_key.get_secret_value(),
                journal_key.get_secret_value() if journal_key is not None else None,
            )
        )
    # The body limit is enforced by our reader too, so an oversized body gets our JSON 413.
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_size)
    app[BACKEND] = backend
    add_routes(app)
    if demo:
        add_dev_routes(app)

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        await create_schema(backend.db.engine)
        if demo:
            async with backend.transaction() as (session, now):
                if await seed_demo(session, backend.hashing, now):
                    logger.info("demo teachers seeded")
        pruning = asyncio.create_task(_prune_budgets(backend))
        try:
            yield
        finally:
            pruning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruning
            await backend.db.dispose()
            backend.hashing.close()

    app.cleanup_ctx.append(lifetime)
    return app
