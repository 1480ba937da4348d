"""The delivery machinery on /metrics: each event happens for real, then /metrics is scraped.

Repeats skipped, write-behind retries and drops and queue depth, commits that waited, the
backend's circuit, the last-resort answer and the admin alert, the polling loop, the retention
job's deletions. (Updates, latency, backend calls, Telegram errors and retries, open tickets and
teachers linked: tests/ops/test_observability.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiogram.exceptions import TelegramServerError
from aiogram.methods import GetUpdates, SendMessage
from aiogram.types import Update
from prometheus_client.parser import text_string_to_metric_families

from bot.observability.routes import serve_operations
from bot.polling import UpdatePoller
from services.helpdesk.models import TranscriptEntry
from services.linking.in_process import RunningBackend
from services.storage.db import create_session_factory
from tests.bot.helpers import Demo
from tests.ops.harness import fake_telegram_runtime, runtime_settings, text_update
from tests.support.fake_telegram import Person

TEACHER = 5200
ADMIN = 77


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) → value, from GET /metrics."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        body = await response.text()
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
async def running(tmp_path: Path, backend: RunningBackend) -> AsyncIterator:
    settings = runtime_settings(tmp_path, backend.url, admin_ids=[ADMIN])
    async with (
        fake_telegram_runtime(settings) as (runtime, telegram),
        serve_operations("127.0.0.1", 0, runtime) as port,
    ):
        yield runtime, telegram, port


async def test_an_update_delivered_twice_is_counted_as_deduplicated(running) -> None:
    runtime, _, port = running
    update = Update.model_validate(text_update(TEACHER, "/start"))
    assert (await scrape(port))[("sferum_bot_updates_deduplicated_total", ())] == 0

    await runtime.dp.feed_update(runtime.bot, update)
    await runtime.dp.feed_update(runtime.bot, update)  # Telegram delivers it again

    assert (await scrape(port))[("sferum_bot_updates_deduplicated_total", ())] == 1


async def test_write_behind_retries_and_drops_and_commits_that_waited(running) -> None:
    runtime, _, port = running
    writer = runtime.sessions.writer
    attempts = 0

    async def lost_connection_once(db) -> None:  # type: ignore[no-untyped-def]
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionResetError("connection reset by the database server")

    async def broken(db) -> None:  # type: ignore[no-untyped-def]
        raise ValueError("a bug in this write")

    await writer.submit(lost_connection_once, label="flaky write")
    await writer.flush()
    await writer.submit(broken, label="broken write")
    await writer.flush()
    flaky_flush_calls = 0

    async def database_away_once() -> None:
        nonlocal flaky_flush_calls
        flaky_flush_calls += 1
        if flaky_flush_calls == 1:
            raise ConnectionRefusedError("database away")

    runtime.delivery.commit.add("a store that was away", database_away_once)
    await runtime.delivery.commit()

    found = await scrape(port)
    writer_label = (("writer", "link-sessions"),)
    assert found[("sferum_bot_write_behind_retries_total", writer_label)] == 1
    assert found[("sferum_bot_write_behind_dropped_total", writer_label)] == 1
    assert found[("sferum_bot_write_behind_retrying", writer_label)] == 0
    assert found[("sferum_bot_commit_retries_total", ())] == 1


async def test_the_circuit_breaker_state_and_calls_refused_while_open(tmp_path: Path) -> None:
    settings = runtime_settings(tmp_path, "http://127.0.0.1:1")  # the backend is down
    async with (
        fake_telegram_runtime(settings) as (runtime, telegram),
        serve_operations("127.0.0.1", 0, runtime) as port,
    ):
        found = await scrape(port)
        assert found[("sferum_bot_backend_circuit_state", (("state", "closed"),))] == 1
        teacher = Person(runtime.dp, runtime.bot, telegram, user_id=TEACHER)
        for _ in range(7):
            await teacher.send("/start some-token")

        found = await scrape(port)
        assert found[("sferum_bot_backend_circuit_state", (("state", "open"),))] == 1
        assert found[("sferum_bot_backend_circuit_state", (("state", "closed"),))] == 0
        assert found[("sferum_bot_backend_calls_rejected_total", ())] == 2  # calls 6 and 7


async def test_a_last_resort_answer_and_the_admin_alert_are_counted(running) -> None:
    runtime, telegram, port = running
    teacher = Person(runtime.dp, runtime.bot, telegram, user_id=TEACHER)
    telegram.fail_next(
        "SendMessage",
        TelegramServerError(method=SendMessage(chat_id=1, text="x"), message="Bad Gateway"),
    )

    await teacher.send("/start")

    assert "Что-то пошло не так" in teacher.last_text
    found = await scrape(port)
    assert found[("sferum_bot_last_resort_answers_total", (("type", "message"),))] == 1
    assert found[("sferum_bot_admin_alerts_total", ())] == 1
    assert found[("sferum_bot_helpdesk_chats_waiting", ())] == 0
    failed = ("sferum_bot_updates_total", (("outcome", "error"), ("type", "message")))
    assert found[failed] == 1  # answered by the last resort, still a failed update


async def test_the_polling_loop_counts_batches_and_failed_fetches(running) -> None:
    runtime, telegram, port = running
    demo = await Demo.load(runtime.linking)
    update = Update.model_validate(text_update(TEACHER, "/start " + await demo.token("vpn")))
    batches = [[update]]
    telegram.fail_next(
        "GetUpdates",
        TelegramServerError(method=GetUpdates(), message="Bad Gateway"),
    )
    poller: UpdatePoller

    def get_updates(method: GetUpdates) -> list[Update]:
        if not batches:
            poller.stop()
            return []
        return batches.pop()

    telegram._GetUpdates = get_updates  # type: ignore[attr-defined]

    async def no_wait(seconds: float) -> None:
        await asyncio.sleep(0)

    poller = UpdatePoller(
        runtime.dp, runtime.bot, commit=runtime.delivery.commit, polling_timeout=0, sleep=no_wait
    )
    runtime.metrics.hooks.poller = poller
    await asyncio.wait_for(poller.run(), 10)

    found = await scrape(port)
    assert found[("sferum_bot_polling_batches_total", ())] == 1
    assert found[("sferum_bot_polling_fetch_failures_total", ())] == 1


async def test_personal_data_deleted_by_the_retention_job_is_counted(running) -> None:
    runtime, _, port = running
    factory = create_session_factory(runtime.engine)
    old = datetime.now(UTC) - timedelta(days=31)
    async with factory() as db, db.begin():
        db.add(TranscriptEntry(user_id=TEACHER, at=old, author="teacher", text="давно"))

    await runtime.retention.run_once()

    found = await scrape(port)
    assert found[("sferum_bot_retention_deleted_total", (("kind", "transcript_lines"),))] == 1
    assert found[("sferum_bot_retention_deleted_total", (("kind", "dialog_records"),))] == 0


async def test_the_write_behind_queue_depth_while_the_database_is_busy(running) -> None:
    runtime, _, port = running
    writer = runtime.sessions.writer
    batch_started, release = asyncio.Event(), asyncio.Event()

    async def slow_write(db) -> None:  # type: ignore[no-untyped-def]
        batch_started.set()
        await release.wait()

    async def quick_write(db) -> None:  # type: ignore[no-untyped-def]
        return None

    await writer.submit(slow_write, label="a long transaction")
    await asyncio.wait_for(batch_started.wait(), 5)
    for _ in range(3):
        await writer.submit(quick_write, label="waits for the next batch")

    found = await scrape(port)
    assert found[("sferum_bot_write_behind_pending", (("writer", "link-sessions"),))] == 3

    release.set()
    await writer.flush()
    found = await scrape(port)
    assert found[("sferum_bot_write_behind_pending", (("writer", "link-sessions"),))] == 0
