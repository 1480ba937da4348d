"""Scriptable aiohttp stub servers on loopback, recording every request they get."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Stub:
    """A running stub server: its URL, what it received, and an event that frees hung handlers."""

    url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


StartStub = Callable[[Handler], Awaitable[Stub]]


@asynccontextmanager
async def serve_stub(handler: Handler) -> AsyncIterator[Stub]:
    """Serve `handler` for every route on 127.0.0.1 (a free port), recording each request."""
    stub = Stub()

    async def record_then_answer(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        stub.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.raw_path.split("?", 1)[0],
                query=dict(request.query),
                headers=dict(request.headers),
                body=body,
            )
        )
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record_then_answer)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        stub.url = f"http://{host}:{port}"
        yield stub
    finally:
        stub.release.set()  # lets handlers that hang on purpose finish before shutdown
        await runner.cleanup()


def json_answer(data: Any, status: int = 200) -> Handler:
    """A handler that always answers `data` as JSON with `status`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(data, status=status)

    return handler


def error_answer(status: int, code: str, **extra: Any) -> Handler:
    """A handler that always refuses with the API's error body."""
    return json_answer({"error": {"code": code, "detail": f"{code} happened", **extra}}, status)


def scripted(*handlers: Handler) -> Handler:
    """Answer the n-th request with the n-th handler (the last one repeats)."""
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        chosen = handlers[min(calls, len(handlers) - 1)]
        calls += 1
        return await chosen(request)

    return handler
