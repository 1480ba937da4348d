"""How the client behaves on the wire: retries, timeouts, broken answers, headers, privacy."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp import web

from services.linking_client import (
    BackendUnavailable,
    ChannelUnavailable,
    LinkingClient,
    MethodNotAllowed,
    NotFound,
    WrongPassword,
)
from tests.client.samples import FLOW
from tests.client.stub_server import StartStub, Stub, error_answer, json_answer, scripted


def text_answer(text: str, status: int = 200, content_type: str = "text/html") -> web.Response:
    return web.Response(text=text, status=status, content_type=content_type)


def hanging(stub_box: list[Stub]) -> object:
    """A handler that never answers until the stub is shut down."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await stub_box[0].release.wait()
        return web.json_response(FLOW)

    return handler


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL where nothing listens: the port is held bound but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"


async def test_get_failing_with_5xx_is_retried_then_reported_unavailable(
    start_stub: StartStub,
) -> None:
    stub = await start_stub(error_answer(500, "boom"))
    async with LinkingClient(stub.url, retries=2, backoff=0) as client:
        with pytest.raises(BackendUnavailable) as caught:
            await client.get_flow("fl-1")
    assert len(stub.requests) == 3
    assert (caught.value.code, caught.value.status) == ("unavailable", 500)


async def test_get_recovers_when_a_retry_succeeds(start_stub: StartStub) -> None:
    stub = await start_stub(scripted(error_answer(503, "unavailable"), json_answer(FLOW)))
    async with LinkingClient(stub.url, retries=2, backoff=0) as client:
        flow = await client.get_flow("fl-1")
    assert flow.flow_id == "fl-1"
    assert len(stub.requests) == 2


async def test_post_failing_with_5xx_is_never_repeated(start_stub: StartStub) -> None:
    stub = await start_stub(error_answer(502, "bad_gateway"))
    async with LinkingClient(stub.url, retries=5, backoff=0) as client:
        with pytest.raises(BackendUnavailable):
            await client.verify_code("fl-1", "1234")
    assert len(stub.requests) == 1


async def test_refusals_are_not_retried_even_for_get(start_stub: StartStub) -> None:
    stub = await start_stub(error_answer(404, "not_found"))
    async with LinkingClient(stub.url, retries=2, backoff=0) as client:
        with pytest.raises(NotFound):
            await client.get_flow("nope")
    assert len(stub.requests) == 1


async def test_backoff_grows_between_get_retries(start_stub: StartStub) -> None:
    stub = await start_stub(error_answer(500, "boom"))
    waits: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    async with LinkingClient(stub.url, retries=3, backoff=0.5, sleep=record_sleep) as client:
        with pytest.raises(BackendUnavailable):
            await client.get_recovery("rc-1")
    assert waits == [0.5, 1.0, 2.0]
    assert len(stub.requests) == 4


async def test_get_timing_out_is_retried_then_unavailable(start_stub: StartStub) -> None:
    box: list[Stub] = []
    stub = await start_stub(hanging(box))
    box.append(stub)
    async with LinkingClient(stub.url, timeout=0.1, retries=1, backoff=0) as client:
        with pytest.raises(BackendUnavailable) as caught:
            await client.get_flow("fl-1")
    assert "in time" in caught.value.detail
    assert caught.value.status is None
    assert len(stub.requests) == 2


async def test_post_timing_out_is_unavailable_and_sent_once(start_stub: StartStub) -> None:
    box: list[Stub] = []
    stub = await start_stub(hanging(box))
    box.append(stub)
    async with LinkingClient(stub.url, timeout=0.1, retries=3, backoff=0) as client:
        with pytest.raises(BackendUnavailable):
            await client.submit_password("fl-1", "Secret-123")
    assert len(stub.requests) == 1


async def test_connection_refused_is_unavailable(refused_url: str) -> None:
    async with LinkingClient(refused_url, retries=1, backoff=0) as client:
        with pytest.raises(BackendUnavailable) as caught:
            await client.health()
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectionError)
    assert caught.value.status is None


async def test_success_status_with_html_body_is_unavailable(start_stub: StartStub) -> None:
    async def html(request: web.Request) -> web.Response:
        return text_answer("<html>proxy login</html>")

    stub = await start_stub(html)
    async with LinkingClient(stub.url, retries=1, backoff=0) as client:
        with pytest.raises(BackendUnavailable) as caught:
            await client.get_flow("fl-1")
    assert "not JSON" in caught.value.detail
    assert len(stub.requests) == 2  # a GET: one retry


async def test_success_with_json_of_the_wrong_shape_is_unavailable(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({**FLOW, "state": "teleported"}))
    async with LinkingClient(stub.url, backoff=0) as client:
        with pytest.raises(BackendUnavailable) as caught:
            await client.submit_phone("fl-1", "+79161234567")
    assert "state" in caught.value.detail


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(404, NotFound), (405, MethodNotAllowed), (418, BackendUnavailable)],
)
async def test_refusal_without_json_body_falls_back_on_the_status(
    start_stub: StartStub, status: int, error_class: type[Exception]
) -> None:
    async def plain(request: web.Request) -> web.Response:
        return text_answer("nope", status=status, content_type="text/plain")

    stub = await start_stub(plain)
    async with LinkingClient(stub.url, retries=0) as client:
        with pytest.raises(error_class) as caught:
            await client.get_flow("fl-1")
    assert getattr(caught.value, "status", None) == status


async def test_api_key_is_sent_as_bearer(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"status": "ok"}))
    async with LinkingClient(stub.url, api_key="s3cr3t-key") as client:
        assert await client.health()
    assert stub.requests[0].headers["Authorization"] == "Bearer s3cr3t-key"


async def test_no_authorization_header_without_api_key(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"status": "ok"}))
    async with LinkingClient(stub.url) as client:
        assert await client.health()
    assert "Authorization" not in stub.requests[0].headers


async def test_health_is_false_when_status_is_not_ok(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"status": "degraded"}))
    async with LinkingClient(stub.url) as client:
        assert await client.health() is False


async def test_ids_cannot_escape_their_path_segment(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer(FLOW))
    async with LinkingClient(stub.url + "/") as client:
        await client.submit_phone("../../dev/vpn?x=1", "+79161234567")
    _, version, resource, flow_id, action = stub.requests[0].path.split("/")
    assert (version, resource, unquote(flow_id), action) == (
        "v1",
        "flows",
        "../../dev/vpn?x=1",
        "phone",
    )
    assert stub.requests[0].query == {}


async def test_phone_in_a_query_keeps_its_plus(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer([]))
    async with LinkingClient(stub.url) as client:
        assert await client.dev_inbox("+79161234567") == []
    assert stub.requests[0].query == {"phone": "+79161234567"}


async def test_shared_session_is_left_open(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"status": "ok"}))
    async with aiohttp.ClientSession() as session:
        async with LinkingClient(stub.url, session=session) as client:
            assert await client.health()
        assert not session.closed


async def test_own_session_is_closed_and_reopened_on_reuse(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"status": "ok"}))
    client = LinkingClient(stub.url)
    assert await client.health()
    await client.close()
    assert await client.health()  # a closed client may be used again (e.g. after a restart)
    await client.close()
    assert len(stub.requests) == 2


async def test_passwords_codes_and_phones_never_reach_the_logs(
    start_stub: StartStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="services.linking_client")
    stub = await start_stub(error_answer(422, "wrong_password", attempts_left=4))
    failing = await start_stub(error_answer(500, "boom"))
    async with LinkingClient(stub.url, backoff=0) as client:
        with pytest.raises(WrongPassword):
            await client.submit_password("fl-1", "Tr0ub4dor&3")
        with pytest.raises(WrongPassword):
            await client.verify_code("fl-1", "482913")
        with pytest.raises(WrongPassword):
            await client.confirm_new_password("rc-1", "N3w-Passw0rd!", logout_other_sessions=True)
        with pytest.raises(WrongPassword):
            await client.start_recovery("+79161234567")
    async with LinkingClient(failing.url, backoff=0, retries=1) as client:
        with pytest.raises(BackendUnavailable):
            await client.dev_inbox("+79161234567")
        with pytest.raises(BackendUnavailable):
            await client.dev_totp("+79161234567")
    logged = caplog.text
    assert "wrong_password" in logged  # logging works at all
    for secret in ("Tr0ub4dor&3", "482913", "N3w-Passw0rd!", "+79161234567", "79161234567"):
        assert secret not in logged
    assert "+7 *** ***-**-67" in logged


async def test_dev_refusals_are_debug_and_real_ones_info(
    start_stub: StartStub, caplog: pytest.LogCaptureFixture
) -> None:
    """A sandbox polls /dev/totp for teachers without the app: expected, not news."""
    caplog.set_level(logging.DEBUG, logger="services.linking_client")
    stub = await start_stub(error_answer(422, "channel_unavailable"))
    async with LinkingClient(stub.url, backoff=0) as client:
        with pytest.raises(ChannelUnavailable):
            await client.dev_totp("+79161234567")
        with pytest.raises(ChannelUnavailable):
            await client.choose_recovery_method("rc-1", "totp")
    refusals = [r for r in caplog.records if r.getMessage().startswith("linking refused")]
    assert [r.levelno for r in refusals] == [logging.DEBUG, logging.INFO]
