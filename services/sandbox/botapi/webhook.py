"""Webhook delivery the way Telegram does it, plus a load balancer in front of several replicas.

While a webhook is set, every pending update is POSTed as JSON to it with the secret token in
`X-Telegram-Bot-Api-Secret-Token`. An update counts as delivered only on a 2xx answer; a non-2xx
answer, a timeout or a refused connection leaves it pending and it is POSTed again after a
growing delay, as Telegram retries. Updates of one chat go one at a time and in order (the next
one waits until the previous one is delivered); different chats are delivered concurrently, up
to `max_connections`. A method in the answer's body (a "webhook reply", JSON or multipart as
aiogram sends it) is executed as if the bot had called it.

`world.webhook_targets`, when set, replaces the registered URL with several ones the way a load
balancer behind the public URL would: each chat's consecutive updates go to successive targets
(so a teacher's clicks alternate between replicas, the worst case for anything a replica keeps
to itself), and a failed attempt is retried on the next target. Each attempt is published on the
world's event bus (`{"type": "webhook", ...}`) and kept in `world.webhook_attempts`, for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.sandbox.botapi.errors import BotApiError
from services.sandbox.botapi.methods import BotApiMethods
from services.sandbox.botapi.params import Params
from services.sandbox.botapi.world import TelegramWorld

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DEFAULT_MAX_CONNECTIONS = 40


@dataclass(frozen=True)
class Attempt:
    """One POST of an update: where, and what came back (status 0: no HTTP answer at all)."""

    update_id: int
    chat: int | str
    target: str
    status: int
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


def chat_key(update: dict[str, Any]) -> int | str:
    """What orders updates: their chat (a callback's message's chat), else their user."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if chat:
            return chat["id"]
        sender = payload.get("from") or payload.get("user")
        if sender:
            return sender["id"]
    return "other"


class WebhookDelivery:
    """Runs while the Bot API app runs; delivers whenever `world.webhook` has a URL."""

    def __init__(
        self,
        world: TelegramWorld,
        methods: BotApiMethods,
        *,
        timeout: float = 60.0,
        first_retry_delay: float = 0.05,
        max_retry_delay: float = 5.0,
    ) -> None:
        self.world = world
        self.methods = methods
        self.timeout = timeout
        self.first_retry_delay = first_retry_delay
        self.max_retry_delay = max_retry_delay
        self._busy: set[int | str] = set()
        self._next_target: dict[int | str, int] = {}
        self._failures: dict[int, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._loop_task = asyncio.create_task(self._run(), name="webhook delivery")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    # --- delivery -----------------------------------------------------------------------------

    async def _run(self) -> None:
        queue = self.world.updates
        while True:
            if self.world.webhook.get("url"):
                seen: set[int | str] = set()
                for update in queue.pending():
                    key = chat_key(update)
                    if key in seen:
                        continue  # only the oldest update of a chat may go
                    seen.add(key)
                    if key in self._busy or len(self._busy) >= self._max_connections():
                        continue
                    self._busy.add(key)
                    task = asyncio.create_task(self._deliver(update, key))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            await queue.changed()

    def _max_connections(self) -> int:
        return int(self.world.webhook.get("max_connections") or DEFAULT_MAX_CONNECTIONS)

    def _target(self, key: int | str) -> str:
        targets = self.world.webhook_targets or [self.world.webhook["url"]]
        index = self._next_target.get(key, 0)
        self._next_target[key] = index + 1
        return targets[index % len(targets)]

    async def _deliver(self, update: dict[str, Any], key: int | str) -> None:
        update_id = update["update_id"]
        try:
            target = self._target(key)
            self.world.webhook_in_flight[update_id] = target
            try:
                attempt = await self._post(target, update, key)
            finally:
                del self.world.webhook_in_flight[update_id]
            self.world.webhook_attempts.append(attempt)
            if attempt.delivered:
                self._failures.pop(update_id, None)
                self.world.updates.confirm(update_id)
            # After the confirmation, so that a listener sees the queue as it now is.
            self.world.events.publish(
                {
                    "type": "webhook",
                    "update_id": update_id,
                    "target": target,
                    "status": attempt.status,
                }
            )
            if attempt.delivered:
                return
            failures = self._failures[update_id] = self._failures.get(update_id, 0) + 1
            self.world.webhook["last_error_date"] = self.world.now()
            self.world.webhook["last_error_message"] = attempt.error or f"HTTP {attempt.status}"
            delay = min(self.first_retry_delay * 2 ** (failures - 1), self.max_retry_delay)
            await asyncio.sleep(delay)  # Telegram's back-off before the same update again
        finally:
            self._busy.discard(key)
            self.world.updates.notify()

    async def _post(self, target: str, update: dict[str, Any], chat: int | str) -> Attempt:
        assert self._session is not None
        headers = {}
        secret = self.world.webhook.get("secret_token")
        if secret:
            headers[SECRET_HEADER] = secret
        update_id = update["update_id"]
        started = time.monotonic()
        try:
            async with self._session.post(
                target,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if 200 <= response.status < 300:
                    await self._run_reply(response)
                    return Attempt(update_id, chat, target, response.status)
                return Attempt(update_id, chat, target, response.status, f"HTTP {response.status}")
        except TimeoutError:
            waited = time.monotonic() - started
            return Attempt(update_id, chat, target, 0, f"Read timeout expired after {waited:.0f} s")
        except aiohttp.ClientError as error:
            return Attempt(update_id, chat, target, 0, f"Connection failed: {type(error).__name__}")

    async def _run_reply(self, response: aiohttp.ClientResponse) -> None:
        """A method in the webhook's answer is executed like a call (its result is lost)."""
        raw: dict[str, Any] = {}
        if response.content_type == "application/json":
            body = await response.json()
            raw = body if isinstance(body, dict) else {}
        elif response.content_type.startswith("multipart/"):
            reader = aiohttp.MultipartReader.from_response(response)
            async for part in reader:
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    raw[part.name] = await part.text()
        name = raw.pop("method", None)
        if not name:
            return
        method = self.methods.lookup(str(name))
        if method is None:
            logger.info("webhook reply with unknown method %s ignored", name)
            return
        try:
            await method(Params(raw))
        except BotApiError as error:
            logger.info("webhook reply %s refused: %s", name, error.description)
