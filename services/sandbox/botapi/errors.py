"""Bot API refusals, worded and numbered the way Telegram words and numbers them."""

from __future__ import annotations

from typing import Any


class BotApiError(Exception):
    """A refusal that becomes `{"ok": false, "error_code": …, "description": …}`."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def envelope(self) -> dict[str, Any]:
        """The JSON body Telegram answers with for this refusal."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> BotApiError:
    """400 `Bad Request: <reason>`."""
    return BotApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> BotApiError:
    """403 `Forbidden: <reason>`."""
    return BotApiError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> BotApiError:
    """429 with `parameters.retry_after`, as Telegram's flood control answers."""
    return BotApiError(
        429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
    )


NOT_FOUND = BotApiError(404, "Not Found")
UNAUTHORIZED = BotApiError(401, "Unauthorized")
