"""What an operator sees: /metrics, /healthz and /readyz, and JSON log lines naming the update."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage
from prometheus_client.parser import text_string_to_metric_families

from bot.observability.logs import JsonFormatter, mask_user_id, update_id_var, user_var
from bot.observability.routes import serve_operations
from services.linking.in_process import RunningBackend
from services.storage.link_sessions import EventKind
from tests.bot.helpers import Demo
from tests.ops.harness import fake_telegram_runtime, runtime_settings
from tests.storage.conftest import REDIS_URL
from tests.support.fake_telegram import Person

TEACHER = 5123456789


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) → value, from the Prometheus text format."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
async def running(tmp_path: Path, backend: RunningBackend) -> AsyncIterator:
    """The runtime on the demo backend with its operations server (polling mode's) on a port."""
    settings = runtime_settings(tmp_path, backend.url)
    async with (
        fake_telegram_runtime(settings) as (runtime, telegram),
        serve_operations("127.0.0.1", 0, runtime) as port,
    ):
        yield runtime, telegram, port


async def test_metrics_count_updates_backend_calls_and_telegram_retries(running, backend) -> None:
    runtime, telegram, port = running
    teacher = Person(runtime.dp, runtime.bot, telegram, user_id=TEACHER)
    demo = await Demo.load(runtime.linking)
    telegram.fail_next(
        "SendMessage",
        TelegramRetryAfter(method=SendMessage(chat_id=1, text="x"), message="flood", retry_after=0),
    )

    await teacher.send("/start " + await demo.token("vkid_no_profile"))
    await teacher.send("/start not-a-token")

    status, body = await get(port, "/metrics")
    assert status == 200
    found = samples(body)
    handled = ("sferum_bot_updates_total", (("outcome", "handled"), ("type", "message")))
    assert found[handled] == 2
    assert found[("sferum_bot_update_handling_seconds_count", (("type", "message"),))] == 2
    flows = ("sferum_bot_backend_calls_total", (("endpoint", "POST /v1/flows"), ("outcome", "ok")))
    assert found[flows] == 1
    refused = (("endpoint", "POST /v1/flows"), ("outcome", "token_invalid"))
    assert found[("sferum_bot_backend_calls_total", refused)] == 1
    assert found[("sferum_bot_telegram_retries_total", (("method", "sendMessage"),))] == 1
    flood = (("method", "sendMessage"), ("outcome", "retry_after"))
    assert found[("sferum_bot_telegram_requests_total", flood)] == 1
    assert found[("sferum_bot_write_behind_pending", (("writer", "link-sessions"),))] == 0
    # Ids never become label values: the flow the teacher opened is nowhere in the export.
    session = await runtime.sessions.get(TEACHER)
    assert session is not None and session.flow_id and session.flow_id not in body


async def test_database_gauges_show_open_tickets_and_teachers_linked_per_scenario(
    running,
) -> None:
    runtime, _, port = running
    sessions = runtime.sessions
    for user in (1, 2, 3):
        await sessions.begin(
            user_id=user, chat_id=user, flow_id="f", mesh_account_id="m", teacher_name="T", step="s"
        )
        await sessions.enter_step(user, "Link:code", scenario="new_profile" if user < 3 else "x")
        await sessions.record_event(user, EventKind.LINKED)
    await sessions.record_event(1, EventKind.LINKED)  # linked twice is one teacher
    helpdesk = runtime.dp["helpdesk"]
    await helpdesk.tickets.open(user_id=7, chat_id=7, teacher_name="Мария")

    found = samples((await get(port, "/metrics"))[1])

    assert found[("sferum_bot_linked_teachers", (("scenario", "new_profile"),))] == 2
    assert found[("sferum_bot_linked_teachers", (("scenario", "x"),))] == 1
    assert found[("sferum_bot_helpdesk_open_tickets", ())] == 1


async def test_liveness_and_readiness_when_everything_answers(running) -> None:
    _, _, port = running
    assert await get(port, "/healthz") == (200, '{"status": "ok"}')
    status, body = await get(port, "/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "checks": {"database": "ok", "backend": "ok"}}


async def test_not_ready_while_the_backend_is_down_but_still_alive(tmp_path: Path) -> None:
    settings = runtime_settings(tmp_path, "http://127.0.0.1:1")  # nothing listens on port 1
    async with (
        fake_telegram_runtime(settings) as (runtime, _),
        serve_operations("127.0.0.1", 0, runtime) as port,
    ):
        status, body = await get(port, "/readyz")
        assert status == 503
        checks = json.loads(body)["checks"]
        assert checks["database"] == "ok" and checks["backend"].startswith("BackendUnavailable")
        assert (await get(port, "/healthz"))[0] == 200  # no restart loop for a backend outage


async def test_redis_is_checked_when_the_dialogs_live_there(tmp_path: Path, backend) -> None:
    settings = runtime_settings(tmp_path, backend.url, redis_url="redis://127.0.0.1:1/0")
    async with (
        fake_telegram_runtime(settings) as (runtime, _),
        serve_operations("127.0.0.1", 0, runtime) as port,
    ):
        status, body = await get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["checks"]["redis"] != "ok"


@pytest.mark.redis
async def test_a_reachable_redis_is_ready(tmp_path: Path, backend, redis_available) -> None:
    settings = runtime_settings(tmp_path, backend.url, redis_url=REDIS_URL)
    async with (
        fake_telegram_runtime(settings) as (runtime, _),
        serve_operations("127.0.0.1", 0, runtime) as port,
    ):
        status, body = await get(port, "/readyz")
        assert (status, json.loads(body)["checks"]["redis"]) == (200, "ok")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every log line of the test, formatted as the bot formats them with LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


async def test_log_lines_of_an_update_name_it_and_mask_the_teacher(running, json_log) -> None:
    runtime, telegram, _ = running
    teacher = Person(runtime.dp, runtime.bot, telegram, user_id=TEACHER)
    update = await teacher.feed(message=teacher._message(text="/start not-a-token"))

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    about_it = [line for line in lines if line.get("update_id") == update.update_id]
    assert about_it, lines
    assert {line["user"] for line in about_it} == {"u…6789"}
    assert all(str(TEACHER) not in json.dumps(line) for line in lines)
    assert {"time", "level", "logger", "message"} <= about_it[0].keys()


def test_the_json_formatter_keeps_errors_and_omits_what_is_not_known() -> None:
    record = logging.LogRecord("bot", logging.ERROR, __file__, 1, "failed: %s", ("x",), None)
    assert json.loads(JsonFormatter().format(record)).keys() == {
        "time",
        "level",
        "logger",
        "message",
    }
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    tokens = (update_id_var.set(17), user_var.set(mask_user_id(TEACHER)))
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        update_id_var.reset(tokens[0])
        user_var.reset(tokens[1])
    assert line["message"] == "failed: x" and "ValueError: boom" in line["error"]
    assert (line["update_id"], line["user"]) == (17, "u…6789")
