"""Requests that only read do not queue for the backend's one writing transaction.

On SQLite every writing request holds the write lock (an asyncio lock, then `BEGIN IMMEDIATE`)
for its whole transaction, argon2 included. The reads — a flow, its events, the MESH account's
flow, a recovery, the dev inbox — read a snapshot of the last commit instead (WAL: a reader
waits for no writer) in a transaction that SQLite refuses to let write (`query_only`).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.linking.api import BACKEND
from services.linking.db import Database, create_engine
from services.linking.in_process import RunningBackend
from tests.linking.http_api import Api


async def test_reads_answer_while_a_write_holds_the_lock(api: Api, backend: RunningBackend) -> None:
    teacher = await api.teacher("vkid_no_profile")
    mesh_id, phone = teacher["mesh_account_id"], teacher["phone"]
    flow = await api.start_flow(mesh_id)
    flow_id = flow["flow_id"]
    await api.step(flow_id, "phone", {"phone": phone})
    recovery = await api.ok(
        "POST", "/v1/recoveries", {"phone": phone, "flow_id": flow_id}, status=201
    )
    window = {"X-Mesh-Account-Id": mesh_id}
    lock = backend.app[BACKEND].db._one_at_a_time
    assert isinstance(lock, asyncio.Lock)

    async with lock:  # a writing request is in its transaction (hashing a password, say)
        read_flow, events, mesh_flow, read_recovery, inbox = await asyncio.wait_for(
            asyncio.gather(
                api.get_flow(flow_id),
                api.ok("GET", f"/v1/flows/{flow_id}/events"),
                api.call("GET", f"/v1/mesh-accounts/{mesh_id}/flow", headers=window),
                api.ok("GET", f"/v1/recoveries/{recovery['recovery_id']}"),
                api.inbox(phone),
            ),
            timeout=30,  # a read that queued for the lock would never answer
        )
        writing = asyncio.create_task(
            api.step(flow_id, "password", {"password": teacher["vk_password"]})
        )
        while not lock._waiters:  # type: ignore[attr-defined]  # a write still queues for it
            assert not writing.done()
            await asyncio.sleep(0.01)
    assert (await asyncio.wait_for(writing, 30))["state"] == "code"  # then the write goes on
    # What was committed before, as a read under the lock would have seen it.
    assert read_flow["state"] == "password" and read_flow["scenario"] == "new_profile"
    assert [event["kind"] for event in events["events"]] == ["step", "step", "recovery"]
    assert mesh_flow.status == 200 and mesh_flow.body["flow_id"] == flow_id
    assert read_recovery["recovery_id"] == recovery["recovery_id"]
    assert [item["channel"] for item in inbox] == ["sms"]  # the recovery's code


async def test_a_read_only_transaction_cannot_write(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'linking.sqlite3'}"))
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body)"))
        with pytest.raises(OperationalError, match="readonly"):
            async with database.transaction(read_only=True) as session:
                await session.execute(text("INSERT INTO notes (body) VALUES ('read')"))
        async with database.transaction() as session:  # the same pooled connection writes again
            await session.execute(text("INSERT INTO notes (body) VALUES ('written')"))
        async with database.transaction(read_only=True) as session:
            rows = await session.execute(text("SELECT body FROM notes"))
            assert rows.scalars().all() == ["written"]
    finally:
        await database.dispose()
