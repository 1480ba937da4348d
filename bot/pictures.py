"""The bot's pictures (bot/assets/pictures/*.png, drawn as SVG and rendered by
scripts/render_pictures.py) sent to a chat: uploaded once, then by Telegram's file_id.

`PictureSender.send` looks the file id up by the bot, the picture's name and the hash of its PNG
(services/storage/telegram_files.py, persisted, so a restart does not upload again); an id
Telegram no longer accepts is forgotten and the picture is uploaded again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, Message

from services.storage.telegram_files import TelegramFileIds

logger = logging.getLogger(__name__)

PICTURES_DIR = Path(__file__).parent / "assets" / "pictures"


@dataclass(frozen=True)
class PictureFile:
    name: str
    data: bytes
    sha256: str

    @classmethod
    def load(cls, path: Path) -> PictureFile:
        data = path.read_bytes()
        return cls(path.stem, data, hashlib.sha256(data).hexdigest())


class PictureSender:
    """Sends the pictures of `directory` by name (one per bot process, shared by all updates)."""

    def __init__(self, file_ids: TelegramFileIds, directory: Path = PICTURES_DIR) -> None:
        self._file_ids = file_ids
        self._pictures = {p.stem: PictureFile.load(p) for p in sorted(directory.glob("*.png"))}
        # Teachers reaching a step together: one upload, the others wait for its file id.
        self._locks = {name: asyncio.Lock() for name in self._pictures}

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._pictures)

    async def send(self, bot: Bot, chat_id: int, name: str, caption: str | None = None) -> Message:
        """Send picture `name` to `chat_id`: by Telegram's file id when it has one."""
        picture = self._pictures[name]
        file_id = await self._file_ids.get(bot.id, name, picture.sha256)
        if file_id is None:
            async with self._locks[name]:
                file_id = await self._file_ids.get(bot.id, name, picture.sha256)
                if file_id is None:
                    return await self._upload(bot, chat_id, picture, caption)
        try:
            return await bot.send_photo(chat_id, file_id, caption=caption)
        except TelegramBadRequest as error:
            if "file" not in error.message.lower():
                raise
            logger.warning("picture %s: file id refused (%s), uploading again", name, error)
        await self._file_ids.forget(bot.id, name, picture.sha256)
        return await self._upload(bot, chat_id, picture, caption)

    async def _upload(
        self, bot: Bot, chat_id: int, picture: PictureFile, caption: str | None
    ) -> Message:
        upload = BufferedInputFile(picture.data, filename=f"{picture.name}.png")
        sent = await bot.send_photo(chat_id, upload, caption=caption)
        if sent.photo:
            try:
                await self._file_ids.put(
                    bot.id, picture.name, picture.sha256, sent.photo[-1].file_id
                )
            except Exception:  # the photo is in the chat; the next send uploads again
                logger.exception("picture %s: file id not remembered", picture.name)
        return sent
