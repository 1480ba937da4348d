"""The runtime `python -m bot` builds: Telegram's flood control is waited out, not surfaced."""

from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage

from bot.app import build_runtime
from bot.config import Settings
from tests.support.fake_telegram import FakeTelegram


async def test_a_429_from_telegram_is_retried_after_retry_after(tmp_path: Path) -> None:
    telegram = FakeTelegram()
    settings = Settings(
        bot_token="42:TEST",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        linking_api_url="http://127.0.0.1:9",
    )
    bot = Bot("42:TEST", session=telegram)
    async with build_runtime(settings, bot=bot, create_tables=True) as runtime:
        flood = TelegramRetryAfter(
            method=SendMessage(chat_id=1, text="x"), message="Too Many Requests", retry_after=0
        )
        telegram.fail_next("SendMessage", flood)

        sent = await runtime.bot.send_message(1, "Здравствуйте!")

    assert sent.text == "Здравствуйте!"
    assert [call.text for call in telegram.calls_of(SendMessage)] == ["Здравствуйте!"] * 2


async def test_the_retry_is_installed_when_the_helpdesk_comes_from_outside(
    tmp_path: Path,
) -> None:
    """Retries belong to the runtime, not to the helpdesk object it may or may not build."""
    telegram = FakeTelegram()
    settings = Settings(
        bot_token="42:TEST",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        linking_api_url="http://127.0.0.1:9",
    )
    bot = Bot("42:TEST", session=telegram)
    async with build_runtime(settings, bot=bot, helpdesk=object(), create_tables=True) as runtime:
        flood = TelegramRetryAfter(
            method=SendMessage(chat_id=1, text="x"), message="Too Many Requests", retry_after=0
        )
        telegram.fail_next("SendMessage", flood)

        sent = await runtime.bot.send_message(1, "Здравствуйте!")

    assert sent.text == "Здравствуйте!"
