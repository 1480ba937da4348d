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
        default=None,
        description="/v1 requires `Authorization: Bearer <api_key>`; required outside demo",
    )
    journal_api_key: SecretStr | None = Field(
        default=None,
        description="The e-journal's own key: its linking window may then act for a MESH account "
        "(`X-Mesh-Account-Id`) on that account's flows; unset outside demo = no window",
    )
    token_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of link tokens, code digests and budget keys; required outside "
        "demo (random per process in demo when unset)",
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

    # Budgets per destination (a phone number or an e-mail address; the code-generator app counts
    # per VK ID), across every flow, recovery and channel: see docs/security.md for the reasoning.
    destination_codes_per_hour: int = Field(
        default=5, description="Codes sent to one phone number or e-mail address in any hour"
    )
    destination_codes_per_day: int = Field(
        default=10, description="Codes sent to one phone number or e-mail address in any 24 h"
    )
    destination_wrong_codes_per_day: int = Field(
        default=10,
        description="Wrong codes for one destination in any 24 h; reaching it locks the "
        "destination (`confirmation_locked`) until the oldest of them is 24 h old",
    )
    account_recoveries_per_day: int = Field(
        default=5, description="Password recoveries started for one VK ID in any 24 h"
    )

    # Quotas per caller: the API key (the bot as a whole) and the end user (a Telegram user).
    end_user_codes_per_hour: int = Field(
        default=10, description="Codes one end user may have sent, to any destination, per hour"
    )
    end_user_codes_per_day: int = Field(default=20, description="The same in any 24 h")
    end_user_wrong_codes_per_day: int = Field(
        default=20, description="Wrong codes one end user may enter, for any destination, in 24 h"
    )
    api_key_codes_per_hour: int = Field(
        default=3000, description="Codes sent on behalf of one API key (all its users) per hour"
    )

    # VK ID password: a lock per client (VK ID + end user) first, per VK ID only much later.
    password_max_attempts: int = Field(
        default=5, description="Wrong passwords from one end user for one VK ID before the lock"
    )
    password_lock_seconds: int = Field(
        default=900, description="Window of those attempts, and how long that lock lasts"
    )
    account_wrong_passwords_per_day: int = Field(
        default=50, description="Wrong passwords for one VK ID from everyone in any 24 h"
    )
    password_min_length: int = Field(default=8, description="Seed: «Минимум 8 символов»")
    password_special_characters: str = Field(
        default=string.punctuation,
        description="Characters that count as special (the seed's ! \" # $ % ' ( ) * among them)",
    )
    password_hash_time_cost: int = Field(default=3, description="argon2id iterations")
    password_hash_memory_cost: int = Field(default=65536, description="argon2id memory, KiB")
    password_hash_parallelism: int = Field(default=4, description="argon2id lanes")
    password_hash_concurrency: int = Field(
        default=2, description="argon2 hashes at once (threads); more wait, the loop never does"
    )

    # Personal data.
    min_teacher_age: int = Field(default=18)
    max_teacher_age: int = Field(default=100)
    full_name_max_length: int = Field(default=100)

    # HTTP.
    max_body_size: int = Field(default=64 * 1024, description="Bodies above this get 413")


MIN_SECRET_LENGTH = 32
SECRET_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class InsecureSettings(ValueError):
    """The backend refuses to serve real traffic with these settings."""


def require_production_secrets(settings: LinkingSettings) -> None:
    """Outside demo, LINKING_API_KEY and LINKING_TOKEN_SECRET must be set and long enough.

    Without an API key anyone who reaches the port drives flows; without a fixed token secret
    the link tokens and code digests change with every restart.
    """
    problems = [
        f"{name} is {'not set' if value is None else 'shorter than 32 characters'}"
        for name, value in (
            ("LINKING_API_KEY", settings.api_key),
            ("LINKING_TOKEN_SECRET", settings.token_secret),
        )
        if value is None or len(value.get_secret_value()) < MIN_SECRET_LENGTH
    ]
    if problems:
        raise InsecureSettings(
            "; ".join(problems)
            + f". Outside --demo both are required; generate each with: {SECRET_HINT}"
        )
