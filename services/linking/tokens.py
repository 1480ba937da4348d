"""One-time link tokens: HMAC-signed, expiring, at most 64 chars of [A-Za-z0-9_-].

Layout before base64url (33 bytes → 44 chars): version (1) | token id (12) | expiry as unix
seconds (4) | HMAC-SHA256 of the preceding bytes truncated to 16 bytes. The token id is the
primary key of the `link_tokens` row that records the MESH account and single use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.db import execute_core, get, rows_affected, table
from services.linking.errors import (
    NotFound,
    TokenExpired,
    TokenInvalid,
    TokenUsed,
    ensure_plausible_id,
)
from services.linking.models import LinkToken, MeshAccount

TELEGRAM_START_PARAMETER_LIMIT = 64
_VERSION = 1
_ID_BYTES = 12
_SIG_BYTES = 16
_LAYOUT = struct.Struct(f">B{_ID_BYTES}sI")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    mesh_account_id: str
    expires_at: datetime


class LinkTokenSigner:
    """Signs and checks the token's bytes; knows nothing of the database."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"link-token" + payload, hashlib.sha256).digest()[:_SIG_BYTES]

    def sign(self, token_id: bytes, expires_at: datetime) -> str:
        payload = _LAYOUT.pack(_VERSION, token_id, int(expires_at.timestamp()))
        raw = payload + self._signature(payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def open(self, token: str) -> tuple[str, datetime]:
        """Return (token id, expiry) of a well-formed, correctly signed token."""
        if not _TOKEN_RE.fullmatch(token):
            raise TokenInvalid("The link token is malformed.")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as error:
            raise TokenInvalid("The link token is malformed.") from error
        if len(raw) != _LAYOUT.size + _SIG_BYTES:
            raise TokenInvalid("The link token is malformed.")
        payload, signature = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if not hmac.compare_digest(signature, self._signature(payload)):
            raise TokenInvalid("The link token's signature is wrong.")
        version, token_id, expires = _LAYOUT.unpack(payload)
        if version != _VERSION:
            raise TokenInvalid("The link token's version is unknown.")
        return token_id.hex(), datetime.fromtimestamp(expires, UTC)


class LinkTokens:
    """Issues tokens for MESH accounts and redeems each at most once."""

    def __init__(self, signer: LinkTokenSigner, ttl_seconds: int) -> None:
        self._signer = signer
        self._ttl = timedelta(seconds=ttl_seconds)

    async def issue(
        self, session: AsyncSession, mesh_account_id: str, now: datetime
    ) -> IssuedToken:
        """Issue a token for an existing MESH account (the e-journal's «Перейти к подключению»)."""
        mesh_account_id = ensure_plausible_id(mesh_account_id, "MESH account")
        if await get(session, MeshAccount, mesh_account_id) is None:
            raise NotFound(f"Unknown MESH account '{mesh_account_id}'.")
        token_id = secrets.token_bytes(_ID_BYTES)
        # Whole seconds: the token carries the expiry as unix seconds.
        expires_at = (now + self._ttl).replace(microsecond=0)
        session.add(
            LinkToken(
                id=token_id.hex(),
                mesh_account_id=mesh_account_id,
                issued_at=now,
                expires_at=expires_at,
                used_at=None,
            )
        )
        token = self._signer.sign(token_id, expires_at)
        assert len(token) <= TELEGRAM_START_PARAMETER_LIMIT
        return IssuedToken(token, mesh_account_id, expires_at)

    def restart_ticket(
        self, session: AsyncSession, mesh_account_id: str, now: datetime
    ) -> LinkToken:
        """The record a restarted flow is opened with: never handed out, used at once.

        Every flow names the token that opened it; a restart («Начать заново») opens a flow
        without the e-journal, so it gets a ticket of its own that nobody can present again.
        """
        row = LinkToken(
            id=secrets.token_bytes(_ID_BYTES).hex(),
            mesh_account_id=mesh_account_id,
            issued_at=now,
            expires_at=now,
            used_at=now,
        )
        session.add(row)
        return row

    async def find(self, session: AsyncSession, token: str, now: datetime) -> LinkToken:
        """The token's row once signature, expiry and existence are checked (used or not)."""
        token_id, expires_at = self._signer.open(token)
        if now >= expires_at:
            raise TokenExpired()
        row = await get(session, LinkToken, token_id)
        if row is None:
            raise TokenInvalid("The link token is unknown.")
        return row

    async def redeem(self, session: AsyncSession, row: LinkToken, now: datetime) -> None:
        """Mark the token used; a conditional UPDATE so two redemptions cannot both win."""
        result = await execute_core(session, _REDEEM, {"token_id": row.id, "now": now})
        if rows_affected(result) != 1:
            raise TokenUsed()


# Built once, on the table (`db.execute_core`): no statement building or cache key per
# redemption.
_TOKENS = table(LinkToken)
_REDEEM = (
    update(_TOKENS)
    .where(_TOKENS.c.id == bindparam("token_id"), _TOKENS.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)
