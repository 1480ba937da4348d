"""Tables of the simulated VK ID + Sferum + MESH world (own metadata, not the bot's Base)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which drops tzinfo) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class LinkingBase(DeclarativeBase):
    """Declarative base of the simulation's tables only."""

    type_annotation_map = {datetime: UtcDateTime()}  # noqa: RUF012


class MeshAccount(LinkingBase):
    """A teacher's MESH e-journal account; `vpn_enabled` simulates the teacher's network."""

    __tablename__ = "mesh_accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    school: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(16), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    linked_profile_id: Mapped[str | None] = mapped_column(ForeignKey("sferum_profiles.id"))
    linked_at: Mapped[datetime | None]
    vpn_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class VkAccount(LinkingBase):
    """A VK ID: the phone is the login; the password is stored only as an argon2id hash."""

    __tablename__ = "vk_accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    email: Mapped[str | None] = mapped_column(String(200))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    trusted_friends: Mapped[int] = mapped_column(Integer, default=0)
    # Wrong passwords before this moment no longer count (a finished recovery sets it).
    password_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class DeviceSession(LinkingBase):
    """A device where the VK ID is signed in; `client` 'vk_messenger' means Sferum is authorised."""

    __tablename__ = "device_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vk_account_id: Mapped[str] = mapped_column(ForeignKey("vk_accounts.id"), index=True)
    client: Mapped[str] = mapped_column(String(40))
    device: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class SferumProfile(LinkingBase):
    """A Sferum educational profile; at most one per phone (unique constraint)."""

    __tablename__ = "sferum_profiles"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    vk_account_id: Mapped[str] = mapped_column(ForeignKey("vk_accounts.id"), index=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(8))
    school: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class LinkToken(LinkingBase):
    """A one-time ticket the e-journal hands out; `used_at` is set exactly once."""

    __tablename__ = "link_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    mesh_account_id: Mapped[str] = mapped_column(ForeignKey("mesh_accounts.id"))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class LinkFlow(LinkingBase):
    """One teacher's way through the VK ID windows for one MESH account."""

    __tablename__ = "link_flows"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    mesh_account_id: Mapped[str] = mapped_column(ForeignKey("mesh_accounts.id"), index=True)
    # The link token that opened the flow and the end user (Telegram user) who redeemed it:
    # the flow answers that end user only.
    token_id: Mapped[str] = mapped_column(ForeignKey("link_tokens.id"), unique=True)
    end_user_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    scenario: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(16))
    vk_account_id: Mapped[str | None] = mapped_column(ForeignKey("vk_accounts.id"))
    code_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    chosen_profile_id: Mapped[str | None] = mapped_column(ForeignKey("sferum_profiles.id"))
    full_name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(8))
    linked_profile_id: Mapped[str | None] = mapped_column(ForeignKey("sferum_profiles.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Concurrent writers of one flow: the second UPDATE matches no row and fails cleanly.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Recovery(LinkingBase):
    """A VK ID password recovery; the proposed new password is kept hashed until repeated."""

    __tablename__ = "recoveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    phone: Mapped[str] = mapped_column(String(16))
    vk_account_id: Mapped[str] = mapped_column(ForeignKey("vk_accounts.id"))
    flow_id: Mapped[str | None] = mapped_column(ForeignKey("link_flows.id"))
    end_user_id: Mapped[str] = mapped_column(String(64))  # the only end user it answers
    state: Mapped[str] = mapped_column(String(20))
    method: Mapped[str | None] = mapped_column(String(10))
    proposed_password_hash: Mapped[str | None] = mapped_column(String(200))
    logout_other_sessions: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Challenge(LinkingBase):
    """A verification code sent (or expected, for TOTP) for one flow or recovery step.

    Only an HMAC digest of the code is kept. `status` moves from 'active' to 'used', 'burnt' or
    'superseded' through conditional UPDATEs, so two verifications cannot both win.
    """

    __tablename__ = "challenges"
    __table_args__ = (
        UniqueConstraint("owner_kind", "owner_id", "serial", name="uq_challenges_owner_serial"),
        Index("ix_challenges_destination", "destination", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(20))  # flow | recovery | recovery_method
    owner_id: Mapped[str] = mapped_column(String(40))
    serial: Mapped[int] = mapped_column(Integer)  # 1, 2, … per owner: the newest is the current
    channel: Mapped[str] = mapped_column(String(8))
    # The phone or e-mail the code went to; for the code-generator app, "account:<VK ID id>".
    destination: Mapped[str] = mapped_column(String(200))
    code_digest: Mapped[str | None] = mapped_column(String(64))
    code_length: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="active")
    attempts_left: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    resend_available_at: Mapped[datetime | None]


class Delivery(LinkingBase):
    """What reached the teacher's phone or mailbox (the dev inbox shows it in demo mode).

    The code and the message text are kept only in demo mode; otherwise only that something
    was sent, where and when.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_destination", "destination", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8))
    destination: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Consent(LinkingBase):
    """Who agreed (or refused) to link which MESH account with which profile, and when."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("link_flows.id"))
    mesh_account_id: Mapped[str] = mapped_column(ForeignKey("mesh_accounts.id"))
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("sferum_profiles.id"))
    decision: Mapped[str] = mapped_column(String(8))
    decided_at: Mapped[datetime]


class BudgetEvent(LinkingBase):
    """One counted event (a code sent, a wrong code, a wrong password…) of one budget subject.

    `subject` is a keyed digest of what is counted ("phone:+7…", "end_user:42"), so the table
    holds no phone numbers or e-mail addresses. Rows older than the longest window are pruned.
    """

    __tablename__ = "budget_events"
    __table_args__ = (
        Index("ix_budget_events_subject", "subject", "kind", "at"),
        Index("ix_budget_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


class BudgetSubject(LinkingBase):
    """A row per budget subject, written first by every request that spends from it.

    On PostgreSQL the write holds the row lock until commit, so two requests spending from one
    subject run one after the other and neither can overspend; SQLite's BEGIN IMMEDIATE
    serialises writers anyway.
    """

    __tablename__ = "budget_subjects"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(index=True)


class FlowEvent(LinkingBase):
    """One thing that happened to a link flow, for its owner's feed (`GET …/events`).

    `seq` is global and only grows, so «events after N» is one indexed range. `data` is a small
    JSON object (channel, attempts left, the refusal's code…), never a code or a password.
    Each flow keeps its newest events only (services/linking/flow_events.py prunes).
    """

    __tablename__ = "flow_events"
    __table_args__ = (Index("ix_flow_events_flow", "flow_id", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(8))
    data: Mapped[str] = mapped_column(Text, default="{}")
    at: Mapped[datetime] = mapped_column(index=True)
