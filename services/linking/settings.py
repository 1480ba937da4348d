"""Settings of the linking backend (env prefix `LINKING_`), with the seed article's values."""

from __future__ import annotations

import string

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LinkingSettings(BaseSettings):
    """Every timing, length and limit of the simulation; defaults follow the seed article."""

    model_config = SettingsConfigDict(env_prefix="LINKING_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///linking_backend.sqlite3",
        description="SQLite file by default; postgresql+asyncpg://… works the same",
    )
    api_key: SecretStr | None = Field(
        default=None, description="When set, /v1 requires `Authorization: Bearer <api_key>`"
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of link tokens and code digests; random per process when unset",
    )
    bot_username: str = Field(
        default="sferum_link_bot", description="Used to show the deep link t.me/<bot>?start=<token>"
    )

    # Link tokens and flows.
    link_token_ttl: int = Field(default=3600, description="Seconds a link token stays valid")
    flow_lifetime: int = Field(default=86400, description="Seconds a link flow stays usable")
    recovery_lifetime: int = Field(default=3600, description="Seconds a recovery stays usable")

    # Confirmation codes (seed: «Звонок поступит в течение 00:56», «Отправить SMS через 1:15»,
    # «Отправить код повторно 4:51»).
    call_code_resend_after: int = Field(default=56, description="Call-reset resend cooldown, s")
    sms_code_resend_after: int = Field(default=75, description="SMS resend cooldown, s")
    email_code_resend_after: int = Field(default=291, description="E-mail resend cooldown, s")
    call_code_length: int = Field(default=4, description="Last digits of the calling number")
    sms_code_length: int = Field(default=6)
    email_code_length: int = Field(default=6)
    totp_code_length: int = Field(default=6, description="Digits of the code-generator app")
    code_lifetime: int = Field(default=600, description="Seconds a sent code stays valid")
    code_max_attempts: int = Field(default=5, description="Wrong codes before the code is burnt")

    # VK ID password.
    password_max_attempts: int = Field(default=5, description="Wrong passwords before the lock")
    password_lock_seconds: int = Field(default=900, description="How long the lock lasts")
    password_min_length: int = Field(default=8, description="Seed: «Минимум 8 символов»")
    password_special_characters: str = Field(
        default=string.punctuation,
        description="Characters that count as special (the seed's ! \" # $ % ' ( ) * among them)",
    )
    password_hash_time_cost: int = Field(default=3, description="argon2id iterations")
    password_hash_memory_cost: int = Field(default=65536, description="argon2id memory, KiB")
    password_hash_parallelism: int = Field(default=4, description="argon2id lanes")

    # Personal data.
    min_teacher_age: int = Field(default=18)
    max_teacher_age: int = Field(default=100)
    full_name_max_length: int = Field(default=100)

    # HTTP.
    max_body_size: int = Field(default=64 * 1024, description="Bodies above this get 413")
