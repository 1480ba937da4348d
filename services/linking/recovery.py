"""VK ID password recovery («Забыли или не установили пароль?»).

States: code (SMS sent) → confirm_account → method → method_code (totp/email) or friends (a code
to each trusted friend, all of them needed) → new_password → repeat_password → done; an account
with nothing but its phone (a VK ID made by registration) goes from confirm_account straight to
new_password: the SMS code was its confirmation. `cancelled` when the teacher says the account
shown is not hers. The proposed new password is kept only as a hash until
the teacher repeats it, so the bot never has to hold it.

A recovery belongs to the end user who started it. Starting one spends one of the VK ID's
recoveries of the day and sends an SMS within the number's budgets; its SMS, e-mail and
code-generator codes count against the number's, the address's and the VK ID's budgets
(limits.py), so neither restarting nor switching methods gives fresh tries.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.callers import Caller
from services.linking.codes import Challenges
from services.linking.db import get
from services.linking.errors import (
    ChannelUnavailable,
    FlowExpired,
    NotFound,
    PasswordMismatch,
    UnknownAccount,
    WeakPassword,
    WrongState,
    ensure_plausible_id,
)
from services.linking.friends import Friend, friend_name, friends_of
from services.linking.limits import Limits
from services.linking.models import Challenge, LinkFlow, Recovery, VkAccount
from services.linking.network import ensure_no_vpn
from services.linking.passwords import PasswordHashing, PasswordPolicy
from services.linking.phones import mask_email, mask_name, mask_phone, validate_phone
from services.linking.settings import LinkingSettings
from services.linking.views import challenge_view, log_ref
from services.linking.vkid import LINKING_CLIENT, VkIdAccounts

logger = logging.getLogger(__name__)

SMS_OWNER, METHOD_OWNER, FRIEND_OWNER = "recovery", "recovery_method", "recovery_friend"
SMS_ONLY = "sms"
"""The method of an account with no other: the SMS code that started the recovery."""
FINISHED_STATES = ("done", "cancelled")
RECOVERY_DEVICE = "Восстановление доступа VK ID (браузер)"


def available_methods(account: VkAccount) -> list[str]:
    """What this account offers, in the order of the seed's window; ["sms"] when nothing else
    (a VK ID made by registration has only its phone, as VK ID does it then)."""
    methods = []
    if account.totp_secret:
        methods.append("totp")
    if account.email:
        methods.append("email")
    if account.trusted_friends > 0:
        methods.append("friends")
    return methods or [SMS_ONLY]


def _friend_owner(recovery: Recovery, friend: Friend) -> str:
    return f"{recovery.id}:{friend.index}"


class Recoveries:
    """Every transition of a recovery; each method runs inside the caller's transaction."""

    def __init__(
        self,
        settings: LinkingSettings,
        challenges: Challenges,
        vkid: VkIdAccounts,
        policy: PasswordPolicy,
        hashing: PasswordHashing,
        limits: Limits,
    ) -> None:
        self._settings = settings
        self._challenges = challenges
        self._vkid = vkid
        self._policy = policy
        self._hashing = hashing
        self._limits = limits

    async def start(
        self,
        session: AsyncSession,
        phone: str,
        flow_id: str | None,
        caller: Caller,
        now: datetime,
    ) -> Recovery:
        """Phone entered on «Восстановление пароля»: an SMS code is sent at once."""
        phone = validate_phone(phone)
        mesh_account_id = None
        if flow_id is not None:
            flow = await get(session, LinkFlow, ensure_plausible_id(flow_id, "flow"))
            if flow is None or flow.end_user_id != caller.end_user:
                raise NotFound(f"Unknown flow '{flow_id}'.")
            mesh_account_id = flow.mesh_account_id
        await ensure_no_vpn(session, mesh_account_id=mesh_account_id, phone=phone)
        account = await self._vkid.by_phone(session, phone)
        if account is None:
            raise UnknownAccount()
        await self._limits.start_recovery(session, account.id, now)
        recovery = Recovery(
            id=f"rec-{uuid.uuid4().hex}",
            phone=phone,
            vk_account_id=account.id,
            flow_id=flow_id,
            end_user_id=caller.end_user,
            state="code",
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.recovery_lifetime),
        )
        session.add(recovery)
        await session.flush()
        await self._send_sms(session, recovery, caller, now)
        logger.info("recovery %s started for %s", log_ref(recovery.id), mask_phone(phone))
        return recovery

    async def load(
        self, session: AsyncSession, recovery_id: str, caller: Caller, now: datetime
    ) -> Recovery:
        """The caller's recovery (another end user's is unknown), unless it has expired."""
        recovery = await get(session, Recovery, ensure_plausible_id(recovery_id, "recovery"))
        if recovery is None or recovery.end_user_id != caller.end_user:
            raise NotFound(f"Unknown recovery '{recovery_id}'.")
        if recovery.state not in FINISHED_STATES and now >= recovery.expires_at:
            raise FlowExpired("The recovery has expired; start again.")
        return recovery

    async def resend_code(
        self, session: AsyncSession, recovery_id: str, caller: Caller, now: datetime
    ) -> Recovery:
        """«Отправить SMS» once the cooldown («Отправить SMS через 1:15») has passed."""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "code")
        await self._send_sms(session, recovery, caller, now)
        return recovery

    async def verify_code(
        self, session: AsyncSession, recovery_id: str, code: str, caller: Caller, now: datetime
    ) -> Recovery:
        """«Введите код» from the SMS → «Это ваш аккаунт?»."""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "code")
        await self._challenges.verify_latest(session, SMS_OWNER, recovery.id, code, caller, now)
        recovery.state = "confirm_account"
        return recovery

    async def confirm_account(
        self,
        session: AsyncSession,
        recovery_id: str,
        confirmed: bool,
        caller: Caller,
        now: datetime,
    ) -> Recovery:
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "confirm_account")
        if not confirmed:
            recovery.state = "cancelled"
        elif available_methods(await self._account(session, recovery)) == [SMS_ONLY]:
            recovery.method = SMS_ONLY
            recovery.state = "new_password"
        else:
            recovery.state = "method"
        return recovery

    async def choose_method(
        self, session: AsyncSession, recovery_id: str, method: str, caller: Caller, now: datetime
    ) -> Recovery:
        """«Как вы хотите подтвердить, что аккаунт принадлежит вам?»"""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "method", "method_code", "friends")
        account = await self._account(session, recovery)
        if method == SMS_ONLY or method not in available_methods(account):
            raise ChannelUnavailable(f"This account cannot be confirmed by '{method}'.")
        recovery.method = method
        if method == "friends":
            await self._challenges.end_active(session, METHOD_OWNER, recovery.id)
            await self._ask_friends(session, recovery, account, caller, now, again=False)
            recovery.state = "friends"
            return recovery
        await self._issue_method_code(session, recovery, account, method, caller, now)
        recovery.state = "method_code"
        return recovery

    async def resend_method_code(
        self, session: AsyncSession, recovery_id: str, caller: Caller, now: datetime
    ) -> Recovery:
        """«Отправить код повторно» for the e-mail method."""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "method_code")
        if recovery.method != "email":
            raise ChannelUnavailable("The code-generator app shows its codes itself.")
        account = await self._account(session, recovery)
        await self._issue_method_code(session, recovery, account, "email", caller, now)
        return recovery

    async def resend_friend_codes(
        self, session: AsyncSession, recovery_id: str, caller: Caller, now: datetime
    ) -> Recovery:
        """New codes for the friends who have not given theirs yet, once the cooldown is over."""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "friends")
        account = await self._account(session, recovery)
        await self._ask_friends(session, recovery, account, caller, now, again=True)
        return recovery

    async def verify_friend_code(
        self, session: AsyncSession, recovery_id: str, code: str, caller: Caller, now: datetime
    ) -> Recovery:
        """The code of the next friend still waiting (in the window's order); the last one
        confirms the account → `new_password`. Wrong codes count against that friend."""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "friends")
        account = await self._account(session, recovery)
        waiting = await self._friends_waiting(session, recovery, account)
        if not waiting:  # cannot happen: the last code moves the state on
            raise WrongState(recovery.state)
        friend = waiting[0]
        await self._challenges.verify_latest(
            session, FRIEND_OWNER, _friend_owner(recovery, friend), code, caller, now
        )
        if len(waiting) == 1:
            recovery.state = "new_password"
        return recovery

    async def verify_method_code(
        self, session: AsyncSession, recovery_id: str, code: str, caller: Caller, now: datetime
    ) -> Recovery:
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "method_code")
        account = await self._account(session, recovery)
        await self._challenges.verify_latest(
            session,
            METHOD_OWNER,
            recovery.id,
            code,
            caller,
            now,
            totp_secret=account.totp_secret,
        )
        recovery.state = "new_password"
        return recovery

    async def propose_password(
        self, session: AsyncSession, recovery_id: str, password: str, caller: Caller, now: datetime
    ) -> Recovery:
        """«Введите новый пароль»: checked against the policy, kept hashed until repeated."""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "new_password", "repeat_password")
        unmet = self._policy.unmet(password)
        if unmet:
            raise WeakPassword(unmet, self._policy.describe())
        recovery.proposed_password_hash = await self._hashing.hash(password)
        recovery.state = "repeat_password"
        return recovery

    async def confirm_password(
        self,
        session: AsyncSession,
        recovery_id: str,
        password: str,
        logout_other_sessions: bool,
        caller: Caller,
        now: datetime,
    ) -> Recovery:
        """«Повторите новый пароль» + «Выйти на всех устройствах, кроме этого» → done."""
        recovery = await self.load(session, recovery_id, caller, now)
        _require(recovery, "repeat_password")
        if not await self._hashing.verify(recovery.proposed_password_hash, password):
            recovery.proposed_password_hash = None
            recovery.state = "new_password"
            raise PasswordMismatch()
        account = await self._account(session, recovery)
        await self._vkid.set_password(account, password, now)
        this_device = self._vkid.open_session(
            session, account, LINKING_CLIENT, RECOVERY_DEVICE, now
        )
        await session.flush()
        if logout_other_sessions:
            ended = await self._vkid.end_other_sessions(session, account, this_device.id, now)
            logger.info("recovery %s: %d other sessions ended", log_ref(recovery.id), ended)
        recovery.proposed_password_hash = None
        recovery.logout_other_sessions = logout_other_sessions
        recovery.state = "done"
        return recovery

    async def view(
        self, session: AsyncSession, recovery: Recovery, now: datetime
    ) -> dict[str, Any]:
        """The Recovery object of the API; the account is disclosed only after the SMS code."""
        account = await self._account(session, recovery)
        disclosed = recovery.state != "code"
        challenge: Challenge | None = None
        if recovery.state == "code":
            challenge = await self._challenges.latest(session, SMS_OWNER, recovery.id)
        elif recovery.state == "method_code":
            challenge = await self._challenges.latest(session, METHOD_OWNER, recovery.id)
        friends: list[dict[str, Any]] = []
        if disclosed and recovery.method == "friends":
            waiting = await self._friends_waiting(session, recovery, account)
            friends = [{"name": f.name, "confirmed": f not in waiting} for f in friends_of(account)]
            if recovery.state == "friends" and waiting:
                challenge = await self._challenges.latest(
                    session, FRIEND_OWNER, _friend_owner(recovery, waiting[0])
                )
        view = challenge_view(challenge, now)
        if view is not None and challenge is not None and challenge.channel == "friend":
            view["sent_to"] = friend_name(challenge.destination, account)
        return {
            "recovery_id": recovery.id,
            "state": recovery.state,
            "phone_masked": mask_phone(recovery.phone),
            "account": (
                {"masked_name": mask_name(account.first_name, account.last_name)}
                if disclosed
                else None
            ),
            "methods": available_methods(account) if disclosed else [],
            "email_masked": mask_email(account.email) if disclosed else None,
            "friends": friends,
            "challenge": view,
            "logout_other_sessions": recovery.logout_other_sessions,
        }

    async def _send_sms(
        self, session: AsyncSession, recovery: Recovery, caller: Caller, now: datetime
    ) -> None:
        await self._challenges.issue(
            session,
            owner_kind=SMS_OWNER,
            owner_id=recovery.id,
            channel="sms",
            destination=recovery.phone,
            caller=caller,
            now=now,
        )

    async def _friends_waiting(
        self, session: AsyncSession, recovery: Recovery, account: VkAccount
    ) -> list[Friend]:
        """The friends asked whose code has not been entered yet, in order."""
        waiting = []
        for friend in friends_of(account):
            latest = await self._challenges.latest(
                session, FRIEND_OWNER, _friend_owner(recovery, friend)
            )
            if latest is None or latest.status != "used":
                waiting.append(friend)
        return waiting

    async def _ask_friends(
        self,
        session: AsyncSession,
        recovery: Recovery,
        account: VkAccount,
        caller: Caller,
        now: datetime,
        *,
        again: bool,
    ) -> None:
        """A code to every friend still waiting, each within that friend's budgets.

        Choosing friends again keeps the codes still alive (no second code, no cooldown hit);
        `again` («Отправить коды повторно») sends new ones. All or none: one refusal (a cooldown,
        a budget) rolls back the codes of the others.
        """
        name = mask_name(account.first_name, account.last_name)
        for friend in await self._friends_waiting(session, recovery, account):
            owner = _friend_owner(recovery, friend)
            latest = await self._challenges.latest(session, FRIEND_OWNER, owner)
            alive = latest is not None and latest.status == "active" and now < latest.expires_at
            if alive and not again:
                continue
            await self._challenges.issue(
                session,
                owner_kind=FRIEND_OWNER,
                owner_id=owner,
                channel="friend",
                destination=friend.destination,
                caller=caller,
                now=now,
                requested_by=name,
            )

    async def _issue_method_code(
        self,
        session: AsyncSession,
        recovery: Recovery,
        account: VkAccount,
        method: str,
        caller: Caller,
        now: datetime,
    ) -> None:
        """An e-mail code (sent within the address's budgets) or a code-generator challenge.

        The app's wrong codes count against the VK ID ("account:<id>" stands for the app).
        """
        assert method in ("email", "totp")
        destination = account.email if method == "email" else f"account:{account.id}"
        assert destination is not None
        await self._challenges.issue(
            session,
            owner_kind=METHOD_OWNER,
            owner_id=recovery.id,
            channel=method,
            destination=destination,
            caller=caller,
            now=now,
        )

    @staticmethod
    async def _account(session: AsyncSession, recovery: Recovery) -> VkAccount:
        account = await get(session, VkAccount, recovery.vk_account_id)
        assert account is not None
        return account


def _require(recovery: Recovery, *states: str) -> None:
    if recovery.state not in states:
        raise WrongState(recovery.state)
