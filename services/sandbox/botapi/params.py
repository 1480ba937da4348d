"""Method parameters from any body Telegram accepts: query string, form, multipart or JSON.

aiogram sends every field as a form string and JSON-encodes the structured ones (reply_markup,
entities, allowed_updates) and even numbers and booleans, so each accessor coerces by the
parameter's declared type rather than guessing from the string.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Any, Literal, overload

from services.sandbox.botapi.errors import bad_request


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart part."""

    filename: str
    content_type: str
    data: bytes


class Params:
    """Typed access to one request's parameters; absent or empty values read as None."""

    def __init__(
        self, raw: dict[builtins.str, Any], uploads: dict[builtins.str, Upload] | None = None
    ):
        self._raw = raw
        self._uploads = uploads or {}

    def __contains__(self, name: builtins.str) -> builtins.bool:
        return self._raw.get(name) not in (None, "")

    # The accessors are named after the types they return, so annotations spell the builtins.
    @overload
    def str(self, name: builtins.str, *, required: Literal[True]) -> builtins.str: ...
    @overload
    def str(
        self, name: builtins.str, *, required: builtins.bool = False
    ) -> builtins.str | None: ...
    def str(self, name: builtins.str, *, required: builtins.bool = False) -> builtins.str | None:
        value = self._raw.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f'parameter "{name}" is required')
            return None
        return value if isinstance(value, str) else str(value)

    @overload
    def int(self, name: builtins.str, *, required: Literal[True]) -> builtins.int: ...
    @overload
    def int(
        self, name: builtins.str, *, required: builtins.bool = False
    ) -> builtins.int | None: ...
    def int(self, name: builtins.str, *, required: builtins.bool = False) -> builtins.int | None:
        value = self._raw.get(name)
        if value is None or value == "":
            if required:
                raise bad_request(f'parameter "{name}" is required')
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be an integer')
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be an integer') from None

    def float(self, name: builtins.str) -> builtins.float | None:
        value = self._raw.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be a number') from None

    def bool(self, name: builtins.str) -> builtins.bool:
        value = self._raw.get(name)
        if isinstance(value, bool):
            return value
        if value is None or value == "":
            return False
        return str(value).lower() in {"true", "1"}

    def json(self, name: builtins.str) -> Any:
        value = self._raw.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def chat_id(self, name: builtins.str = "chat_id") -> builtins.int | builtins.str:
        value = self._raw.get(name)
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        if text.startswith("@"):
            return text
        try:
            return int(text)
        except ValueError:
            raise bad_request("chat not found") from None

    def input_file(self, name: builtins.str) -> Upload | builtins.str | None:
        """An uploaded file (directly or via `attach://<part>`) or a file_id/URL string."""
        if name in self._uploads:
            return self._uploads[name]
        value = self.str(name)
        if value is None:
            return None
        if value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part not in self._uploads:
                raise bad_request(f"file of the {name} wasn't found in the request")
            return self._uploads[part]
        return value
