"""The trap DESIGN.md §6 warns about: an SQLAlchemy FSM storage with a session and a transaction
per call. Kept only as the benchmark's baseline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.storage.fsm import FsmRecord


class NaiveSQLStorage(BaseStorage):
    def __init__(self, engine: AsyncEngine, key_builder: KeyBuilder) -> None:
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.key_builder = key_builder

    async def _get(self, key: str) -> str | None:
        async with self.sessions() as session:
            record = await session.get(FsmRecord, key)
            return record.value if record else None

    async def _put(self, key: str, value: str | None) -> None:
        async with self.sessions() as session, session.begin():
            record = await session.get(FsmRecord, key)
            if value is None:
                if record is not None:
                    await session.delete(record)
            elif record is None:
                session.add(FsmRecord(key=key, value=value))
            else:
                record.value = value

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._put(self.key_builder.build(key, "state"), value)

    async def get_state(self, key: StorageKey) -> str | None:
        return await self._get(self.key_builder.build(key, "state"))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._put(self.key_builder.build(key, "data"), json.dumps(data) if data else None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        raw = await self._get(self.key_builder.build(key, "data"))
        return json.loads(raw) if raw else {}

    async def close(self) -> None:
        pass
