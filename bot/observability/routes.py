"""GET /healthz, /readyz and /metrics on an aiohttp app; a server of their own for polling mode.

Meant for the private network (compose's, a scraper's): the reverse proxy in front of the webhook
forwards only the webhook path.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.observability.health import Health
from bot.observability.metrics import BotMetrics

logger = logging.getLogger(__name__)

HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"


def add_operations_routes(app: web.Application, health: Health, metrics: BotMetrics) -> None:
    async def healthz(request: web.Request) -> web.Response:
        # Liveness: the event loop answers. Dependencies are readiness' business, so that a
        # database outage does not make an orchestrator restart every replica in a loop.
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ready, report = await health.readiness()
        return web.json_response(
            {"status": "ok" if ready else "unavailable", "checks": report},
            status=200 if ready else 503,
        )

    async def export(request: web.Request) -> web.Response:
        body = await metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get(HEALTHZ, healthz)
    app.router.add_get(READYZ, readyz)
    app.router.add_get(METRICS, export)


@contextlib.asynccontextmanager
async def serve_operations(host: str, port: int | None, runtime: Any) -> AsyncIterator[int | None]:
    """Serve the three routes for a `bot.app.Runtime` on host:port (0 picks a free port; None
    serves nothing); yields the port."""
    if port is None:
        yield None
        return
    app = web.Application()
    add_operations_routes(app, runtime.health, runtime.metrics)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        logger.info("health and metrics on %s:%d", host, bound)
        yield bound
    finally:
        await runner.cleanup()
