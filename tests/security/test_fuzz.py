"""Property-based fuzzing of every backend endpoint with hostile JSON, headers and ids.

Properties: never a 5xx; every refusal is the API's JSON error; a refusal changes nothing in
the database — except the refusals that are themselves recorded attempts (a wrong code, a wrong
password, the lock they cause, a mismatched repeat), which the API documents as counting.

The backend runs for real (aiohttp over loopback, SQLite) in a thread of its own so that
hypothesis drives it from a plain test. `HYPOTHESIS_PROFILE=deep` runs many more examples than
the CI profile (tests/security/conftest.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from services.clock import FakeClock
from services.linking.in_process import RunningBackend, serve_backend

# Refusals that record an attempt (DomainError.keeps_changes): their change is the point.
RECORDED_REFUSALS = {
    "code_invalid",
    "code_burnt",
    "wrong_password",
    "password_locked",
    "confirmation_locked",
    "password_mismatch",
}
OWNER = "fuzz-owner"

FIELDS = [
    "mesh_account_id",
    "token",
    "phone",
    "password",
    "channel",
    "code",
    "profile_id",
    "full_name",
    "birth_date",
    "gender",
    "decision",
    "flow_id",
    "confirmed",
    "method",
    "logout_other_sessions",
    "enabled",
]
PLAUSIBLE = [
    "+79031112202",
    "+79687778807",
    "+79161234501",
    "mesh-1002",
    "sf-demo-04",
    "1234",
    "123456",
    "call",
    "sms",
    "totp",
    "email",
    "friends",
    "link",
    "cancel",
    "female",
    "1986-09-03",
    "Кузнецов Андрей Сергеевич",
    "Kuznecov#1986",
    True,
    False,
]


@dataclass(frozen=True)
class Target:
    url: str
    database: str
    flow_id: str
    recovery_id: str


def _request(target: Target, method: str, path: str, body: bytes | None, headers: dict) -> tuple:
    parts = urlsplit(target.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _call(target: Target, method: str, path: str, payload: Any, user: str | None = OWNER) -> Any:
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers["X-End-User-Id"] = user
    status, raw = _request(target, method, path, json.dumps(payload).encode(), headers)
    assert status < 300, (path, raw)
    return json.loads(raw)


# The owner's refusals are published to her flow's feed by design (guide mode: the bot helps
# with them); that a stranger's requests write nothing there is attacked in
# tests/guide/test_flow_events.py. The feed is not the state a refusal must leave alone.
_PUBLISHED = frozenset({"flow_events"})


def _snapshot(database: str) -> dict[str, list[tuple]]:
    """Every row of every table (a small demo world) but the flows' event feeds."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        return {
            table: connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
            for table in tables
            if table not in _PUBLISHED
        }


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """The demo backend in its own thread, with a flow and a recovery of OWNER to aim at."""
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[tuple[RunningBackend, asyncio.Event]] = (
        concurrent.futures.Future()
    )

    async def serve() -> None:
        stop = asyncio.Event()
        async with serve_backend(demo=True, clock=FakeClock()) as running:
            started.set_result((running, stop))
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    running, stop = started.result(timeout=60)
    try:
        url = running.url
        database = running.settings.database_url.split("///", 1)[1]
        probe = Target(url, database, "", "")
        token = _call(probe, "POST", "/dev/link-token", {"mesh_account_id": "mesh-1002"})["token"]
        flow = _call(probe, "POST", "/v1/flows", {"token": token})
        _call(probe, "POST", f"/v1/flows/{flow['flow_id']}/phone", {"phone": "+79031112202"})
        recovery = _call(probe, "POST", "/v1/recoveries", {"phone": "+79687778807"})
        yield Target(url, database, flow["flow_id"], recovery["recovery_id"])
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)
        loop.close()


FLOW_ACTIONS = [
    "phone",
    "password",
    "code",
    "code/verify",
    "profile",
    "switch-account",
    "personal-data",
    "consent",
]
RECOVERY_ACTIONS = [
    "code",
    "code/verify",
    "confirm",
    "method",
    "method/code",
    "method/verify",
    "friends/code",
    "friends/verify",
    "password",
    "password/confirm",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(["\x00", "\u200b", "\u202e", "💥", "' OR 1=1 --", "../../etc/passwd"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
objects = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.text(max_size=12)), values, max_size=6
)
# Every field the API knows (each route ignores the others), mostly plausible values: these get
# past parsing into the domain rules.
near_valid = st.fixed_dictionaries(
    {name: st.one_of(*[st.sampled_from(PLAUSIBLE)] * 3, scalars) for name in FIELDS}
)


def _encode(value: Any) -> bytes:
    # Lone surrogates become invalid UTF-8 on purpose: the body must still be refused cleanly.
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


huge = st.builds(
    lambda name, ch, n: {name: ch * n},
    st.sampled_from(FIELDS),
    st.characters(),
    st.integers(1_000, 70_000),
)
bodies = st.one_of(
    huge.map(_encode),
    near_valid.map(_encode),
    near_valid.map(_encode),
    objects.map(_encode),
    values.map(_encode),
    st.integers(1, 40_000).map(lambda depth: ("[" * depth + "]" * depth).encode()),
    st.integers(1, 12_000).map(lambda depth: ('{"a":' * depth + "0" + "}" * depth).encode()),
    st.binary(max_size=300),
    st.just(b""),
)
ids = st.one_of(
    st.just("{own}"),
    st.just("{own}"),
    st.just("{own}"),
    st.sampled_from(["flow-unknown", "rec-unknown", "mesh-1002", "x" * 300]),
    st.text(min_size=1, max_size=80),
)
routes = st.one_of(
    st.tuples(st.just("POST"), st.sampled_from(["/v1/link-tokens", "/v1/flows", "/v1/recoveries"])),
    st.tuples(st.just("POST"), st.sampled_from(["/dev/link-token", "/dev/vpn"])),
    st.tuples(st.just("GET"), st.sampled_from(["/health", "/dev/accounts"])),
    st.tuples(st.just("GET"), st.sampled_from(["/v1/flows/{flow}", "/v1/recoveries/{recovery}"])),
    st.tuples(st.just("POST"), st.sampled_from([f"/v1/flows/{{flow}}/{a}" for a in FLOW_ACTIONS])),
    st.tuples(
        st.just("POST"),
        st.sampled_from([f"/v1/recoveries/{{recovery}}/{a}" for a in RECOVERY_ACTIONS]),
    ),
    st.tuples(st.just("POST"), st.just("/v1/mesh-accounts/{mesh}/phone")),
    st.tuples(st.just("GET"), st.sampled_from(["/dev/inbox", "/dev/mailbox", "/dev/totp"])),
    st.tuples(st.sampled_from(["PUT", "DELETE", "PATCH"]), st.just("/v1/flows/{flow}")),
)
end_users = st.one_of(
    st.just(OWNER),
    st.just(OWNER),
    st.just(OWNER),
    st.none(),
    st.just("someone-else"),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=100),
)
queries = st.dictionaries(
    st.sampled_from(["phone", "email", "x"]),
    st.one_of(st.text(max_size=300), st.sampled_from(PLAUSIBLE[:3])),
    max_size=2,
)


@given(
    route=routes,
    body=bodies,
    path_id=ids,
    end_user=end_users,
    query=queries,
)
def test_no_hostile_request_gets_a_5xx_or_changes_anything_when_refused(
    target: Target,
    route: tuple[str, str],
    body: bytes,
    path_id: str,
    end_user: str | None,
    query: dict[str, str],
) -> None:
    method, template = route
    own = {"flow": target.flow_id, "recovery": target.recovery_id, "mesh": "mesh-1002"}
    path = template.format(
        **{key: own[key] if path_id == "{own}" else quote(path_id, safe="") for key in own}
    )
    if method == "GET" and query:
        path += "?" + urlencode(query)
    headers = {"Content-Type": "application/json"}
    if end_user is not None:
        headers["X-End-User-Id"] = end_user
    before = _snapshot(target.database)
    status, raw = _request(target, method, path, body if method != "GET" else None, headers)

    assert status < 500, (method, path, raw[:300])
    if status < 400:
        event(f"{status} {method} {template}")
        return
    error = json.loads(raw)["error"]
    event(f"{status} {error['code']}")  # --hypothesis-show-statistics shows the spread
    assert isinstance(error["code"], str) and isinstance(error["detail"], str)
    if error["code"] not in RECORDED_REFUSALS:
        assert _snapshot(target.database) == before, (method, path, error)
