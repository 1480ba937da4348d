"""Telegram's file ids of the files the bot sends again and again (its pictures).

A file goes up to Telegram once; after that the bot sends Telegram's `file_id` instead of the
bytes. The ids are kept in the bot's database, so a restart does not upload again, and are keyed
by the bot's id (file ids belong to one bot), the file's name and a hash of its content (an
edited picture is a new file). Reads are served from memory after the first one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, String, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from services.storage.db import Base


class TelegramFile(Base):
    """One uploaded file: which bot, which name and content, and Telegram's id for it."""

    __tablename__ = "telegram_files"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_id: Mapped[str] = mapped_column(String(256))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


Key = tuple[int, str, str]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TelegramFileIds:
    """file_id by (bot id, name, sha256): remembered in the database and in memory."""

    def __init__(
        self, session_factory: async_sessionmaker, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self._known: dict[Key, str | None] = {}

    async def get(self, bot_id: int, name: str, sha256: str) -> str | None:
        """Telegram's id of this very file, or None when it was never uploaded."""
        key = (bot_id, name, sha256)
        if key not in self._known:
            async with self._sessions() as db:
                self._known[key] = await db.scalar(
                    select(TelegramFile.file_id).where(
                        TelegramFile.bot_id == bot_id,
                        TelegramFile.name == name,
                        TelegramFile.sha256 == sha256,
                    )
                )
        return self._known[key]

    async def put(self, bot_id: int, name: str, sha256: str, file_id: str) -> None:
        """Remember the id Telegram gave to an upload; the newest upload wins, also when two
        processes upload at once (one upsert, no delete-then-insert race)."""
        values = {
            "bot_id": bot_id,
            "name": name,
            "sha256": sha256,
            "file_id": file_id,
            "uploaded_at": self._clock(),
        }
        async with self._sessions.begin() as db:
            dialect = db.bind.dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(TelegramFile).values(**values)
            await db.execute(
                statement.on_conflict_do_update(
                    index_elements=["bot_id", "name", "sha256"],
                    set_={"file_id": file_id, "uploaded_at": values["uploaded_at"]},
                )
            )
        self._known[(bot_id, name, sha256)] = file_id

    async def forget(self, bot_id: int, name: str, sha256: str) -> None:
        """Drop an id Telegram no longer accepts; the next send uploads again."""
        async with self._sessions.begin() as db:
            await db.execute(
                delete(TelegramFile).where(
                    TelegramFile.bot_id == bot_id,
                    TelegramFile.name == name,
                    TelegramFile.sha256 == sha256,
                )
            )
        self._known.pop((bot_id, name, sha256), None)
