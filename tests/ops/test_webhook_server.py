"""Webhook mode in one process: the secret, the answer after handling, draining on shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from aiogram.methods import DeleteWebhook, SendMessage, SetWebhook
from pydantic import SecretStr
from sqlalchemy import text

from bot.webhook import (
    GENERATE_SECRET,
    SECRET_HEADER,
    WebhookConfigError,
    webhook_secret,
    webhook_server,
)
from services.linking.in_process import RunningBackend
from services.storage.db import create_engine
from tests.ops.harness import (
    SECRET,
    WEBHOOK_URL,
    Gate,
    fake_telegram_runtime,
    runtime_settings,
    text_update,
)

TEACHER = 4242


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [
        (None, "needs WEBHOOK_SECRET"),
        ("", "needs WEBHOOK_SECRET"),
        ("Zq8-rV3_kP1xW7nT4yB6mH2jL9s", "at least 32"),  # 27 characters
        ("a" * 40, "does not look random"),
        ("0123456789" * 4, "does not look random"),
        ("Zq8-rV3_kP1xW7nT4yB6mH2jL9sD0fGcA5e/oIi", "only A-Z"),  # "/" is not allowed
    ],
)
def test_webhook_mode_refuses_a_missing_short_or_guessable_secret(
    tmp_path: Path, secret: str | None, complaint: str
) -> None:
    settings = runtime_settings(tmp_path, "http://127.0.0.1:9", webhook_secret=secret)
    with pytest.raises(WebhookConfigError, match=complaint) as refused:
        webhook_secret(settings)
    assert GENERATE_SECRET in str(refused.value)  # the message says how to make a good one


def test_a_secret_made_as_the_readme_says_is_accepted(tmp_path: Path) -> None:
    import secrets

    for _ in range(200):
        made = secrets.token_urlsafe(32)
        settings = runtime_settings(tmp_path, "http://127.0.0.1:9", webhook_secret=made)
        assert webhook_secret(settings) == made


async def post(port: int, update: dict, secret: str | None) -> tuple[int, str]:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{port}/tg", json=update, headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_forged_updates_are_refused_before_anything_runs(
    tmp_path: Path, backend: RunningBackend
) -> None:
    settings = runtime_settings(tmp_path, backend.url)
    async with (
        fake_telegram_runtime(settings) as (runtime, telegram),
        webhook_server(runtime, WEBHOOK_URL) as server,
    ):
        forged = text_update(TEACHER, "/start")
        for stolen_guess in (None, "", SECRET[:-1], SECRET + "x", SECRET.upper()):
            assert await post(server.port, forged, stolen_guess) == (401, "Unauthorized")

        assert telegram.calls_of(SendMessage) == []
        assert runtime.metrics.updates.collect()[0].samples == []  # no update reached aiogram
        # The real Telegram, with the secret, gets the teacher her answer.
        assert await post(server.port, text_update(TEACHER, "/start"), SECRET) == (200, "{}")
        assert [call.chat_id for call in telegram.calls_of(SendMessage)] == [TEACHER]


async def test_garbage_with_the_secret_is_a_bad_request_not_a_crash(
    tmp_path: Path, backend: RunningBackend
) -> None:
    settings = runtime_settings(tmp_path, backend.url)
    async with (
        fake_telegram_runtime(settings) as (runtime, _),
        webhook_server(runtime, WEBHOOK_URL) as server,
    ):
        assert (await post(server.port, {"update_id": "x"}, SECRET))[0] == 400
        assert (await post(server.port, [1, 2], SECRET))[0] == 400


async def test_telegram_gets_its_answer_only_after_the_update_is_handled(
    tmp_path: Path, backend: RunningBackend
) -> None:
    settings = runtime_settings(tmp_path, backend.url)
    async with (
        fake_telegram_runtime(settings) as (runtime, telegram),
        webhook_server(runtime, WEBHOOK_URL) as server,
    ):
        gate = Gate()
        runtime.dp.update.outer_middleware(gate)
        delivery = asyncio.create_task(post(server.port, text_update(TEACHER, "/start"), SECRET))
        await gate.entered.wait()

        assert not delivery.done()  # the update is being handled: no answer yet
        gate.open()
        assert await delivery == (200, "{}")
        assert len(telegram.calls_of(SendMessage)) == 1  # handled before the answer


async def test_a_stopping_replica_finishes_what_it_has_refuses_the_rest_and_commits(
    tmp_path: Path, backend: RunningBackend
) -> None:
    settings = runtime_settings(tmp_path, backend.url)
    async with fake_telegram_runtime(settings) as (runtime, telegram):
        async with webhook_server(runtime, WEBHOOK_URL) as server:
            gate = Gate()
            runtime.dp.update.outer_middleware(gate)
            in_flight = asyncio.create_task(
                post(server.port, text_update(TEACHER, "/language"), SECRET)
            )
            await gate.entered.wait()

            await server.stop_accepting()  # SIGTERM's first half
            ready, report = await runtime.health.readiness()
            assert not ready and report["shutdown"] == "draining"
            with pytest.raises(aiohttp.ClientConnectorError):
                await post(server.port, text_update(TEACHER + 1, "/start"), SECRET)
            finishing = asyncio.create_task(server.finish_in_flight(within=30))
            assert not in_flight.done()

            gate.open()
            assert (await in_flight)[0] == 200
            assert await finishing is True
        assert [call.chat_id for call in telegram.calls_of(SendMessage)] == [TEACHER]
    # The runtime closed after draining: the transcript line, written behind, was committed.
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT user_id, text FROM helpdesk_transcript"))
            assert (TEACHER, "/language") in rows.tuples().all()
    finally:
        await engine.dispose()


def test_the_secret_setting_is_never_printed(tmp_path: Path) -> None:
    settings = runtime_settings(tmp_path, "http://127.0.0.1:9")
    assert isinstance(settings.webhook_secret, SecretStr)
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())


async def test_a_stopping_replica_answers_503_on_a_kept_alive_connection(
    tmp_path: Path, backend: RunningBackend
) -> None:
    settings = runtime_settings(tmp_path, backend.url)
    async with (
        fake_telegram_runtime(settings) as (runtime, telegram),
        webhook_server(runtime, WEBHOOK_URL) as server,
        aiohttp.ClientSession() as http,  # one pooled connection, as Telegram keeps them
    ):
        url, headers = f"http://127.0.0.1:{server.port}/tg", {SECRET_HEADER: SECRET}
        async with http.post(url, json=text_update(TEACHER, "/start"), headers=headers) as first:
            assert first.status == 200
        await server.stop_accepting()

        async with http.post(url, json=text_update(TEACHER, "/help"), headers=headers) as late:
            # Not handled: Telegram keeps the update and delivers it to another replica.
            assert late.status == 503
        assert len(telegram.calls_of(SendMessage)) == 1


async def test_a_replica_never_sets_the_webhook_only_the_deployment_command_does(
    tmp_path: Path, backend: RunningBackend
) -> None:
    """Replicas start and stop (rolling updates, crashes) without touching Telegram's webhook:
    `python -m bot set-webhook` sets it once (tests/ops/test_webhook_replicas.py)."""
    settings = runtime_settings(tmp_path, backend.url)
    async with fake_telegram_runtime(settings) as (runtime, telegram):
        async with webhook_server(runtime, WEBHOOK_URL) as server:  # a replica's whole life
            assert await post(server.port, text_update(TEACHER, "/start"), SECRET) == (200, "{}")

        assert len(telegram.calls_of(SendMessage)) == 1
        assert telegram.calls_of(SetWebhook) == []
        assert telegram.calls_of(DeleteWebhook) == []
