"""Log lines as JSON (or text) at LOG_LEVEL, each naming the update and the teacher it is about.

`bot.observability.log_context.UpdateLogContext` puts the update id and a masked user id into
the context variables below, which the formatters add to every line. (No aiogram import here:
`python -m bot migrate` configures logging too and starts faster without it.)
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]

update_id_var: ContextVar[int | None] = ContextVar("log_update_id", default=None)
user_var: ContextVar[str | None] = ContextVar("log_user", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def mask_user_id(user_id: int) -> str:
    """Enough to tell teachers apart in one incident, not enough to look one up: `u…4567`."""
    return f"u…{str(abs(user_id))[-4:]}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, update id, masked user, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        update_id, user = update_id_var.get(), user_var.get()
        if update_id is not None:
            line["update_id"] = update_id
        if user is not None:
            line["user"] = user
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with `[update 12 u…4567]` when an update is being handled."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        update_id, user = update_id_var.get(), user_var.get()
        if update_id is None:
            return text
        return f"{text} [update {update_id}{f' {user}' if user else ''}]"


def configure_logging(level: str = "INFO", log_format: LogFormat = "json") -> None:
    """Route every logger to stderr in `log_format` at `level` (replaces earlier handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
