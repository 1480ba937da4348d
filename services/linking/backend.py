"""The backend's parts wired together once per application (no module globals)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.clock import Clock
from services.linking.budgets import Budgets
from services.linking.callers import client_fingerprint
from services.linking.codes import Challenges
from services.linking.db import Database, create_engine
from services.linking.delivery import Deliveries
from services.linking.flow_events import FlowEvents
from services.linking.flows import Flows
from services.linking.limits import Limits
from services.linking.passwords import PasswordHashing, PasswordPolicy
from services.linking.recovery import Recoveries
from services.linking.settings import LinkingSettings, require_production_secrets
from services.linking.tokens import LinkTokens, LinkTokenSigner
from services.linking.vkid import VkIdAccounts


@dataclass
class Backend:
    """Everything a request handler needs."""

    settings: LinkingSettings
    clock: Clock
    db: Database
    demo: bool
    hashing: PasswordHashing
    deliveries: Deliveries
    tokens: LinkTokens
    limits: Limits
    flows: Flows
    recoveries: Recoveries
    events: FlowEvents

    @property
    def client(self) -> str:
        """The API client every authorised request comes from (the key's fingerprint)."""
        key = self.settings.api_key
        return client_fingerprint(key.get_secret_value() if key is not None else None)

    def now(self) -> datetime:
        """Current time in whole seconds: every time the API shows is exact to the second."""
        return self.clock.now().replace(microsecond=0)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[tuple[AsyncSession, datetime]]:
        """One transaction per request, with the request's notion of now."""
        async with self.db.transaction() as session:
            yield session, self.now()


def build_backend(settings: LinkingSettings, clock: Clock, *, demo: bool) -> Backend:
    """Wire the services; the engine is created but not connected yet.

    Outside demo the API key and the token secret are required (`InsecureSettings`).
    """
    if not demo:
        require_production_secrets(settings)
    secret = (
        settings.token_secret.get_secret_value().encode()
        if settings.token_secret is not None
        else secrets.token_bytes(32)
    )
    hashing = PasswordHashing(settings)
    deliveries = Deliveries(keep_codes=demo)
    limits = Limits(settings, Budgets(secret))
    challenges = Challenges(settings, secret, deliveries, limits)
    vkid = VkIdAccounts(hashing, limits)
    tokens = LinkTokens(LinkTokenSigner(secret), settings.link_token_ttl)
    return Backend(
        settings=settings,
        clock=clock,
        db=Database(create_engine(settings.database_url)),
        demo=demo,
        hashing=hashing,
        deliveries=deliveries,
        tokens=tokens,
        limits=limits,
        flows=Flows(settings, tokens, challenges, vkid),
        recoveries=Recoveries(
            settings, challenges, vkid, PasswordPolicy(settings), hashing, limits
        ),
        events=FlowEvents(),
    )
