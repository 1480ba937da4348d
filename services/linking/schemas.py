"""Request bodies: strict types (no coercion of "1" to 1 or "true" to True), bounded sizes.

Unknown fields are ignored so that clients can evolve; wrong or missing ones give `bad_request`
with a reason per field.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        # PostgreSQL text cannot hold NUL; refuse it up front on every backend alike.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class Empty(Body):
    pass


class MeshAccountBody(Body):
    mesh_account_id: str = Field(min_length=1, max_length=64)


class TokenBody(Body):
    # Longer than 64 is accepted here and refused as `token_invalid` by the token check.
    token: str = Field(min_length=1, max_length=1024)


class PhoneBody(Body):
    phone: str = Field(min_length=1, max_length=32)


class PasswordBody(Body):
    password: str = Field(min_length=1, max_length=256)


class ChannelBody(Body):
    channel: Literal["call", "sms"]


class CodeBody(Body):
    code: str = Field(min_length=1, max_length=16)


class ProfileBody(Body):
    profile_id: str = Field(min_length=1, max_length=64)


class PersonalDataBody(Body):
    full_name: str = Field(max_length=500)
    birth_date: str = Field(max_length=32)
    gender: str = Field(max_length=32)


class ConsentBody(Body):
    decision: Literal["link", "cancel"]


class RecoveryStartBody(Body):
    phone: str = Field(min_length=1, max_length=32)
    flow_id: str | None = Field(default=None, max_length=64)


class ConfirmBody(Body):
    confirmed: bool


class MethodBody(Body):
    method: Literal["totp", "email", "friends"]


class NewPasswordBody(Body):
    # Empty is allowed: the policy then reports every unmet rule.
    password: str = Field(max_length=256)


class RepeatPasswordBody(Body):
    password: str = Field(max_length=256)
    logout_other_sessions: bool


class VpnBody(Body):
    phone: str | None = Field(default=None, max_length=32)
    mesh_account_id: str | None = Field(default=None, max_length=64)
    enabled: bool

    @model_validator(mode="after")
    def _one_target(self) -> VpnBody:
        if (self.phone is None) == (self.mesh_account_id is None):
            raise ValueError("give exactly one of phone or mesh_account_id")
        return self


class WindowScreenBody(Body):
    """The e-journal's window reports the screen it shows (guide mode)."""

    screen: str = Field(pattern=r"^[a-z_]{1,32}$")
