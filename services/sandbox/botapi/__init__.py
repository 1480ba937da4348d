"""An in-memory Telegram world speaking the Bot API wire format (`/bot<token>/<method>`)."""

from services.sandbox.botapi.errors import BotApiError
from services.sandbox.botapi.http import create_botapi_app
from services.sandbox.botapi.world import TelegramWorld

__all__ = ["BotApiError", "TelegramWorld", "create_botapi_app"]
