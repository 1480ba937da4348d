"""Files sent through the sandbox, kept in memory with Telegram-like file ids and paths."""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    filename: str
    mime_type: str
    data: bytes
    width: int = 0
    height: int = 0

    def as_file(self) -> dict:
        """The Bot API `File` object (what getFile answers)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def as_photo_sizes(self) -> list[dict]:
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": len(self.data),
            }
        ]

    def as_document(self) -> dict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.filename,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
        }


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, GIF or JPEG; (0, 0) when the format is not recognised."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                break
            marker = data[pos + 1]
            segment = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
                return width, height
            pos += 2 + segment
    return 0, 0


class FileStore:
    """file_id → StoredFile; files live as long as the sandbox process."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}

    def put(self, data: bytes, *, filename: str, mime_type: str, kind: str) -> StoredFile:
        number = len(self._by_id) + 1
        extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
        width, height = image_size(data) if kind == "photo" else (0, 0)
        stored = StoredFile(
            file_id=f"{kind[:3].upper()}-{secrets.token_urlsafe(18)}",
            file_unique_id=secrets.token_urlsafe(8),
            file_path=f"{kind}s/file_{number}.{extension}",
            filename=filename,
            mime_type=mime_type,
            data=data,
            width=width,
            height=height,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)
