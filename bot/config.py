"""One Settings object for the bot process, read from the environment (and `.env`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = Field(
        default=None, description="Telegram bot token; without it `python -m bot` runs the sandbox"
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="Bot API server base URL (a local Bot API server or the sandbox can stand in)",
    )
    linking_api_url: str = Field(
        default="http://127.0.0.1:8081", description="Base URL of the linking backend"
    )
    linking_api_key: SecretStr | None = Field(
        default=None, description="Bearer key for the linking backend, if it requires one"
    )
    linking_timeout: float = Field(default=10.0, description="Seconds before a backend call fails")
    database_url: str = Field(
        default="sqlite+aiosqlite:///sferum_bot.sqlite3",
        description="Bot state DB: SQLite file by default, postgresql+asyncpg://… in production",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for FSM storage, event isolation and every structure replicas share",
    )
    redis_prefix: str = Field(
        default="sferum",
        description="Prefix of the bot's own Redis keys (de-duplication, locale cache, "
        "throttling, pacing); one per bot/deployment sharing a Redis",
    )
    event_lock_timeout: float = Field(
        default=60.0,
        description="With Redis: seconds a chat's event lock and an update's claim outlive a "
        "replica that died holding them (longer than any update takes to handle)",
    )
    transcript_retention_days: int = Field(
        default=30,
        gt=0,
        description="Days a teacher's conversation lines (the helpdesk's context cards) are kept",
    )
    dialog_retention_days: int = Field(
        default=7,
        gt=0,
        description="Days an abandoned dialog's state (names, phone, step) is kept after its last "
        "change: SQL rows are deleted, Redis records expire",
    )
    retention_interval: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between two runs of the job that deletes expired personal data",
    )
    default_locale: str = Field(default="ru", description="Language for new teachers")
    helpdesk_chat_id: int | None = Field(
        default=None, description="Supergroup (ideally with forum topics) where operators answer"
    )
    helpdesk_operator_ids: list[int] = Field(
        default_factory=list,
        description="Telegram user ids who may answer teachers in the helpdesk group besides its "
        "administrators, e.g. `[1, 2]`",
    )
    admin_ids: list[int] = Field(
        default_factory=list, description="Telegram user ids allowed to use /stats and /export"
    )
    helpdesk_hours: str = Field(
        default="09:00-18:00",
        description="Helpdesk working hours on working days (Mon–Fri but Russian public holidays)",
    )
    helpdesk_timezone: str = Field(default="Europe/Moscow", description="Timezone of the hours")
    helpdesk_extra_holidays: list[date] = Field(
        default_factory=list,
        description="Days the helpdesk is closed besides Russian public holidays, "
        'e.g. `["2027-01-11"]`',
    )
    helpdesk_extra_workdays: list[date] = Field(
        default_factory=list,
        description="Days the helpdesk works although the calendar says otherwise (a transferred "
        'working Saturday the calendar does not know yet), e.g. `["2027-02-20"]`',
    )
    support_phone: str | None = Field(
        default=None,
        description="The school's support phone, shown when no helpdesk chat is configured",
    )
    support_email: str | None = Field(
        default=None,
        description="The school's support e-mail, shown when no helpdesk chat is configured",
    )
    mesh_journal_url: str = Field(
        default="https://school.mos.ru", description="Where teachers open the e-journal"
    )
    vk_terms_url: str = Field(
        default="https://vk.com/terms",
        description="The user agreement accepted with «Продолжить» in the VK ID window",
    )
    vk_privacy_url: str = Field(
        default="https://vk.com/privacy",
        description="The privacy policy accepted with «Продолжить» in the VK ID window",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Webhook mode: the public HTTPS URL Telegram posts to (`--webhook URL` wins)",
    )
    webhook_host: str = Field(default="0.0.0.0", description="Webhook mode: address to listen on")
    webhook_port: int = Field(default=8088, description="Webhook mode: port to listen on")
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Webhook mode: secret token Telegram sends back; required, 32+ random chars",
    )
    shutdown_timeout: float = Field(
        default=30.0, description="Webhook mode: seconds to finish updates in flight on SIGTERM"
    )
    metrics_host: str = Field(
        default="0.0.0.0", description="Polling mode: address of /healthz, /readyz, /metrics"
    )
    metrics_port: int | None = Field(
        default=None,
        description="Polling mode: port of /healthz, /readyz, /metrics (unset: none; webhook "
        "mode serves them on WEBHOOK_PORT)",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["json", "text"] = Field(
        default="json", description="`json`: one object per line (update id, masked user); `text`"
    )
    sandbox_host: str = Field(default="127.0.0.1", description="Sandbox: address of the web UI")
    sandbox_port: int = Field(default=8080, description="Sandbox: port of the web UI")

    @field_validator(
        "bot_token",
        "linking_api_key",
        "redis_url",
        "helpdesk_chat_id",
        "webhook_url",
        "webhook_secret",
        "metrics_port",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        # `NAME=` in .env (as .env.example has it) is "not set", not an empty token or port.
        return None if value == "" else value
