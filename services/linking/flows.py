"""The link flow: one MESH account through the VK ID windows to a linked Sferum profile.

States: phone → (password) → code → (profile, scenario B) → personal_data → consent → linked,
or cancelled. The scenario is decided by the phone alone, never by the MESH account:
no VK ID → registration; VK ID without a profile → new_profile (A); profile → existing_profile (B).

Binding: a flow belongs to the end user (Telegram user) who redeemed its link token and answers
nobody else; a newer token of the same MESH account cancels its older open flows; the phone must
be the one the MESH account has (a new number is confirmed in the e-journal first).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.callers import Caller
from services.linking.codes import Challenges
from services.linking.db import execute_core, get, rows_affected, table
from services.linking.errors import (
    AlreadyLinked,
    DomainError,
    FlowExpired,
    NotFound,
    PhoneMismatch,
    ScenarioChanged,
    TokenUsed,
    VpnDetected,
    WrongState,
    ensure_plausible_id,
)
from services.linking.models import (
    Challenge,
    Consent,
    LinkFlow,
    LinkToken,
    MeshAccount,
    Recovery,
    SferumProfile,
    VkAccount,
)
from services.linking.personal_data import validate_personal_data
from services.linking.phones import mask_name, mask_phone, validate_phone
from services.linking.settings import LinkingSettings
from services.linking.tokens import LinkTokens
from services.linking.views import (
    challenge_view,
    iso,
    log_ref,
    mesh_account_view,
    profile_view,
)
from services.linking.vkid import LINKING_CLIENT, VkIdAccounts

logger = logging.getLogger(__name__)

OWNER = "flow"
TERMINAL_STATES = ("linked", "cancelled")
REGISTRATION, NEW_PROFILE, EXISTING_PROFILE = "registration", "new_profile", "existing_profile"
LINKING_DEVICE = "МЭШ.ВКС (браузер)"


class Flows:
    """Every transition of a link flow; each method runs inside the caller's transaction."""

    def __init__(
        self,
        settings: LinkingSettings,
        tokens: LinkTokens,
        challenges: Challenges,
        vkid: VkIdAccounts,
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._challenges = challenges
        self._vkid = vkid

    async def start(
        self, session: AsyncSession, token: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """Redeem a link token for `caller`'s end user and open a flow in state `phone`.

        The token binds to that end user: presented again it answers `token_used` (with the
        flow's id for the same end user, so a retried redemption can carry on). The MESH
        account's older open flows are cancelled.
        """
        row = await self._tokens.find(session, token, now)
        if row.used_at is not None:
            raise await self._used(session, row, caller)
        mesh = await get(session, MeshAccount, row.mesh_account_id)
        if mesh is None:
            raise NotFound("The MESH account of this token no longer exists.")
        await self._refuse_if_linked(session, mesh)
        await self._tokens.redeem(session, row, now)
        return await self._open(session, mesh, row, caller, now)

    async def restart(
        self, session: AsyncSession, flow_id: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """«Начать заново»: abandon the flow and open a fresh one (state `phone`) for the same
        MESH account and the same end user, without a new link from the e-journal.

        A flow that someone else's newer link replaced stays ended (`wrong_state`): restarting
        never takes the account back from the one who opened it later (a teacher who opens
        the assistant again from her e-journal keeps ending a flow a stranger may hold). The
        caller's own newer flows simply end, as with a new link. Nothing is sent and no budget
        starts afresh: codes, wrong codes and passwords are counted per number, address,
        VK ID and end user, never per flow, and the old flow's codes keep their cooldown.
        """
        flow = await self.load(session, flow_id, caller, now)
        mesh = await get(session, MeshAccount, flow.mesh_account_id)
        assert mesh is not None
        await self._refuse_if_linked(session, mesh)
        replaced_by_another = await session.scalar(
            select(LinkFlow.id)
            .where(
                LinkFlow.mesh_account_id == mesh.id,
                LinkFlow.id != flow.id,
                LinkFlow.created_at >= flow.created_at,
                LinkFlow.end_user_id != caller.end_user,
            )
            .limit(1)
        )
        if replaced_by_another is not None:
            raise WrongState(flow.state, "A newer link of this MESH account replaced the flow.")
        ticket = self._tokens.restart_ticket(session, mesh.id, now)
        fresh = await self._open(session, mesh, ticket, caller, now)
        logger.info("flow %s restarted as %s", log_ref(flow.id), log_ref(fresh.id))
        return fresh

    async def _open(
        self,
        session: AsyncSession,
        mesh: MeshAccount,
        ticket: LinkToken,
        caller: Caller,
        now: datetime,
    ) -> LinkFlow:
        """A new flow in state `phone`; the MESH account's older open flows end here."""
        await self._cancel_open_flows(session, mesh.id)
        flow = LinkFlow(
            id=f"flow-{uuid.uuid4().hex}",
            mesh_account_id=mesh.id,
            token_id=ticket.id,
            end_user_id=caller.end_user,
            state="phone",
            code_verified=False,
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.flow_lifetime),
        )
        session.add(flow)
        await session.flush()
        logger.info("flow %s opened for %s", log_ref(flow.id), mesh.id)
        return flow

    @staticmethod
    async def _used(session: AsyncSession, row: LinkToken, caller: Caller) -> TokenUsed:
        flow = await session.scalar(select(LinkFlow).where(LinkFlow.token_id == row.id))
        if flow is not None and flow.end_user_id == caller.end_user:
            return TokenUsed(flow_id=flow.id)
        return TokenUsed()

    async def _cancel_open_flows(self, session: AsyncSession, mesh_account_id: str) -> None:
        """A newer link of the same MESH account wins: its older unfinished flows end here."""
        mesh = {"b_mesh_account_id": mesh_account_id}
        await execute_core(session, _SUPERSEDE_CODES_OF_OPEN_FLOWS, mesh)
        # The version moves too: a request on an old flow in flight fails as a concurrent change.
        await execute_core(session, _CANCEL_OPEN_FLOWS, mesh)

    async def load(
        self, session: AsyncSession, flow_id: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """The caller's flow, unless unknown or expired (finished flows stay readable).

        Another end user's flow is as unknown as one that does not exist.
        """
        flow = await get(session, LinkFlow, ensure_plausible_id(flow_id, "flow"))
        if flow is None or flow.end_user_id != caller.end_user:
            raise NotFound(f"Unknown flow '{flow_id}'.")
        if flow.state not in TERMINAL_STATES and now >= flow.expires_at:
            raise FlowExpired()
        return flow

    async def submit_phone(
        self, session: AsyncSession, flow_id: str, phone: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """«Продолжить» on the phone window; in `password`/`code` it changes the number.

        The number must be the MESH account's (`phone_mismatch` otherwise, nothing changes).
        """
        flow = await self.load(session, flow_id, caller, now)
        _require(flow, "phone", "password", "code")
        phone = validate_phone(phone)
        mesh = await self._mesh_without_vpn(session, flow)
        if mesh.phone != phone:
            raise PhoneMismatch(mesh_phone_masked=mask_phone(mesh.phone))
        if flow.state == "code" and flow.phone == phone:
            # The same number again is a resend in disguise: the cooldown applies.
            await self._challenges.ensure_cooldown_over(
                session,
                owner_kind=OWNER,
                owner_id=flow.id,
                channel="call",
                destination=phone,
                now=now,
            )
        # What the number has in VK ID is read before the flow changes (one UPDATE of it).
        account = await self._vkid.by_phone(session, phone)
        has_profile = (
            account is not None and await self._vkid.profile_for_phone(session, phone) is not None
        )
        await self._challenges.end_active(session, OWNER, flow.id)
        _reset_identity(flow)
        flow.phone = phone
        await self._decide_scenario(session, flow, account, has_profile, caller, now)
        logger.info(
            "flow %s: phone %s → %s, %s",
            log_ref(flow.id),
            mask_phone(phone),
            flow.scenario,
            flow.state,
        )
        return flow

    async def _decide_scenario(
        self,
        session: AsyncSession,
        flow: LinkFlow,
        account: VkAccount | None,
        has_profile: bool,
        caller: Caller,
        now: datetime,
    ) -> None:
        """No VK ID → registration; VK ID without a profile → A; with a profile → B."""
        if account is None:
            flow.scenario = REGISTRATION
            await self._enter_code(session, flow, caller, now)
            return
        flow.vk_account_id = account.id
        if not has_profile:
            flow.scenario = NEW_PROFILE
            flow.state = "password"
            return
        flow.scenario = EXISTING_PROFILE
        # Seed B, step 3: signed in to VK Messenger already → no password, straight to the code.
        if await self._vkid.messenger_authorised(session, account):
            await self._enter_code(session, flow, caller, now)
        else:
            flow.state = "password"

    async def submit_password(
        self, session: AsyncSession, flow_id: str, password: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """The VK ID password window; a right password sends the call code."""
        flow = await self.load(session, flow_id, caller, now)
        _require(flow, "password")
        account = await self._account(session, flow)
        await self._vkid.check_password(session, account, password, caller, now)
        await self._enter_code(session, flow, caller, now)
        return flow

    async def signed_in_by_recovery(
        self, session: AsyncSession, recovery: Recovery, caller: Caller, now: datetime
    ) -> None:
        """A recovery started from this flow's password window has set a new password: as VK ID
        does after a reset, the device is signed in, so the flow goes on to the code (a call is
        sent) without asking the new password a third time.

        Only the flow the recovery named, of the same end user and VK ID, waiting for the
        password and still alive. A code that cannot be sent now (cooldown, a budget, a lock)
        does not undo the new password: the flow waits at the code step without one, and the
        teacher asks for it there (and hears why not yet).
        """
        if recovery.state != "done" or recovery.flow_id is None:
            return
        flow = await get(session, LinkFlow, recovery.flow_id)
        if (
            flow is None
            or flow.end_user_id != caller.end_user
            or flow.state != "password"
            or flow.vk_account_id != recovery.vk_account_id
            or now >= flow.expires_at
        ):
            return
        flow.state = "code"
        try:
            await self._issue(session, flow, "call", caller, now)
        except DomainError as refusal:
            logger.info("flow %s: no code after the recovery (%s)", log_ref(flow.id), refusal.code)
        logger.info("flow %s: signed in by a recovery", log_ref(flow.id))

    async def send_code(
        self, session: AsyncSession, flow_id: str, channel: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """Resend or switch channel, once the number's cooldown has passed."""
        flow = await self.load(session, flow_id, caller, now)
        _require(flow, "code")
        await self._issue(session, flow, channel, caller, now)
        return flow

    async def verify_code(
        self, session: AsyncSession, flow_id: str, code: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """«Подтвердите вход»: a right code signs the teacher in."""
        flow = await self.load(session, flow_id, caller, now)
        _require(flow, "code")
        await self._challenges.verify_latest(session, OWNER, flow.id, code, caller, now)
        if flow.vk_account_id is not None:
            account = await self._account(session, flow)
            self._vkid.open_session(session, account, LINKING_CLIENT, LINKING_DEVICE, now)
        flow.code_verified = True
        flow.state = "profile" if flow.scenario == EXISTING_PROFILE else "personal_data"
        return flow

    async def choose_profile(
        self, session: AsyncSession, flow_id: str, profile_id: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """«Ваш профиль для связки» → «Продолжить»; prefills «Информация о себе»."""
        flow = await self.load(session, flow_id, caller, now)
        _require(flow, "profile", "personal_data", "consent")
        if flow.scenario != EXISTING_PROFILE:
            raise WrongState(flow.state, "There is no existing profile to choose in this flow.")
        profile = await get(session, SferumProfile, ensure_plausible_id(profile_id, "profile"))
        if profile is None or profile.phone != flow.phone:
            raise NotFound(f"Unknown profile '{profile_id}'.")
        flow.chosen_profile_id = profile.id
        flow.full_name, flow.birth_date, flow.gender = (
            profile.full_name,
            profile.birth_date,
            profile.gender,
        )
        flow.state = "personal_data"
        return flow

    async def switch_account(
        self, session: AsyncSession, flow_id: str, caller: Caller, now: datetime
    ) -> LinkFlow:
        """«Войти в другой аккаунт»: back to the phone window with nothing remembered."""
        flow = await self.load(session, flow_id, caller, now)
        if flow.state in TERMINAL_STATES:
            raise WrongState(flow.state)
        await self._challenges.end_active(session, OWNER, flow.id)
        _reset_identity(flow)
        flow.phone = None
        flow.state = "phone"
        return flow

    async def submit_personal_data(
        self,
        session: AsyncSession,
        flow_id: str,
        *,
        full_name: str,
        birth_date: str,
        gender: str,
        caller: Caller,
        now: datetime,
    ) -> LinkFlow:
        """«Информация о себе»: real full name, date of birth, gender."""
        flow = await self.load(session, flow_id, caller, now)
        _require(flow, "personal_data", "consent")
        data = validate_personal_data(self._settings, full_name, birth_date, gender, now.date())
        flow.full_name, flow.birth_date, flow.gender = data.full_name, data.birth_date, data.gender
        flow.state = "consent"
        return flow

    async def give_consent(
        self, session: AsyncSession, flow_id: str, link: bool, caller: Caller, now: datetime
    ) -> LinkFlow:
        """«Добавление профиля Сферум»: «Привязать» links; «Отмена» cancels the flow."""
        flow = await self.load(session, flow_id, caller, now)
        _require(flow, "consent")
        if not link:
            session.add(_consent(flow, None, "cancel", now))
            flow.state = "cancelled"
            return flow
        mesh = await self._mesh_without_vpn(session, flow)
        await self._refuse_if_linked(session, mesh)
        profile = await self._profile_to_link(session, flow, mesh, now)
        linked = await execute_core(
            session, _LINK_MESH, {"mesh_id": mesh.id, "profile_id": profile.id, "now": now}
        )
        if rows_affected(linked) != 1:  # another flow of this MESH account linked first
            await session.refresh(mesh)
            await self._refuse_if_linked(session, mesh)
        session.add(_consent(flow, profile.id, "link", now))
        flow.linked_profile_id = profile.id
        flow.state = "linked"
        logger.info("flow %s: %s linked to %s", log_ref(flow.id), mesh.id, profile.id)
        return flow

    async def _profile_to_link(
        self, session: AsyncSession, flow: LinkFlow, mesh: MeshAccount, now: datetime
    ) -> SferumProfile:
        """B: the chosen profile, corrected; A and registration: a new profile (and VK ID)."""
        assert flow.phone and flow.full_name and flow.birth_date and flow.gender
        if flow.scenario == EXISTING_PROFILE:
            profile = await get(session, SferumProfile, flow.chosen_profile_id)
            assert profile is not None
            profile.full_name, profile.birth_date, profile.gender = (
                flow.full_name,
                flow.birth_date,
                flow.gender,
            )
            return profile
        if await self._vkid.profile_for_phone(session, flow.phone) is not None:
            # Seed: never a second profile for one phone — she links the existing one (B).
            await self._change_scenario(session, flow, now)
        if flow.scenario == REGISTRATION:
            if await self._vkid.by_phone(session, flow.phone) is not None:
                await self._change_scenario(session, flow, now)  # a VK ID without profile: A
            account = await self._register(session, flow, now)
        else:
            account = await self._account(session, flow)
        profile = SferumProfile(
            id=f"sf-{uuid.uuid4().hex[:12]}",
            vk_account_id=account.id,
            phone=flow.phone,
            full_name=flow.full_name,
            birth_date=flow.birth_date,
            gender=flow.gender,
            school=mesh.school,
            created_at=now,
        )
        session.add(profile)
        await session.flush()
        return profile

    async def _change_scenario(self, session: AsyncSession, flow: LinkFlow, now: datetime) -> None:
        """«Привязать», but the phone's VK ID or profile appeared after the scenario was decided
        (e.g. she registered in VK Messenger meanwhile): move the flow to the scenario the phone
        has now and answer `scenario_changed`, so she goes on there instead of looping.

        The phone is proven (its code was right). A profile → B at `profile` (choose it); a
        VK ID without a profile → A. A VK ID whose password this flow never checked, and whose
        messenger is signed out, asks for it first, as the phone step would have.
        """
        assert flow.phone is not None
        account = await self._vkid.by_phone(session, flow.phone)
        assert account is not None
        password_checked = flow.vk_account_id == account.id
        flow.vk_account_id = account.id
        flow.chosen_profile_id = None
        has_profile = await self._vkid.profile_for_phone(session, flow.phone) is not None
        flow.scenario = EXISTING_PROFILE if has_profile else NEW_PROFILE
        needs_password = (
            not password_checked
            and account.password_hash is not None
            and not await self._vkid.messenger_authorised(session, account)
        )
        if needs_password:
            flow.code_verified = False
            flow.state = "password"
        elif has_profile:
            flow.full_name = flow.birth_date = flow.gender = None
            flow.state = "profile"
            self._vkid.open_session(session, account, LINKING_CLIENT, LINKING_DEVICE, now)
        else:
            flow.state = "consent"  # A with her details as typed: «Привязать» again
            self._vkid.open_session(session, account, LINKING_CLIENT, LINKING_DEVICE, now)
        await session.flush()
        logger.info(
            "flow %s: scenario changed to %s, %s", log_ref(flow.id), flow.scenario, flow.state
        )
        raise ScenarioChanged(flow.scenario, flow.state)

    async def _register(self, session: AsyncSession, flow: LinkFlow, now: datetime) -> VkAccount:
        """Registration variant: the confirmed phone becomes a VK ID without a password."""
        assert flow.phone and flow.full_name
        last_name, first_name = [*flow.full_name.split(), ""][:2]
        account = VkAccount(
            id=f"vk-{uuid.uuid4().hex[:12]}",
            phone=flow.phone,
            email=None,
            first_name=first_name,
            last_name=last_name,
            password_hash=None,
            totp_secret=None,
            trusted_friends=0,
            created_at=now,
        )
        session.add(account)
        await session.flush()
        self._vkid.open_session(session, account, LINKING_CLIENT, LINKING_DEVICE, now)
        flow.vk_account_id = account.id
        return account

    async def view(self, session: AsyncSession, flow: LinkFlow, now: datetime) -> dict[str, Any]:
        """The Flow object of the API."""
        mesh = await get(session, MeshAccount, flow.mesh_account_id)
        assert mesh is not None
        vk_account = None
        if flow.vk_account_id is not None and flow.scenario != REGISTRATION:
            account = await self._account(session, flow)
            vk_account = {
                "masked_name": mask_name(account.first_name, account.last_name),
                "session_authorised": await self._vkid.messenger_authorised(session, account),
            }
        challenge = (
            await self._challenges.latest(session, OWNER, flow.id) if flow.state == "code" else None
        )
        profiles = []
        # Profiles are disclosed only after the code proved the phone is the teacher's.
        if flow.scenario == EXISTING_PROFILE and flow.code_verified and flow.phone:
            profile = await self._vkid.profile_for_phone(session, flow.phone)
            profiles = [profile_view(profile)] if profile else []
        personal_data = None
        if flow.full_name and flow.birth_date and flow.gender:
            personal_data = {
                "full_name": flow.full_name,
                "birth_date": flow.birth_date.isoformat(),
                "gender": flow.gender,
            }
        linked = (
            await get(session, SferumProfile, flow.linked_profile_id)
            if flow.linked_profile_id
            else None
        )
        return {
            "flow_id": flow.id,
            "state": flow.state,
            "scenario": flow.scenario,
            "mesh_account": mesh_account_view(mesh),
            "phone_masked": mask_phone(flow.phone),
            "vk_account": vk_account,
            "challenge": challenge_view(challenge, now),
            "profiles": profiles,
            "personal_data": personal_data,
            "linked_profile": profile_view(linked) if linked else None,
            "expires_at": iso(flow.expires_at),
        }

    @staticmethod
    async def _mesh_without_vpn(session: AsyncSession, flow: LinkFlow) -> MeshAccount:
        """The flow's MESH account; `vpn_detected` while the teacher's network is on VPN."""
        mesh = await get(session, MeshAccount, flow.mesh_account_id)
        assert mesh is not None
        if mesh.vpn_enabled:
            raise VpnDetected()
        return mesh

    async def _refuse_if_linked(self, session: AsyncSession, mesh: MeshAccount) -> None:
        if mesh.linked_profile_id is None:
            return
        profile = await get(session, SferumProfile, mesh.linked_profile_id)
        raise AlreadyLinked(profile=profile_view(profile) if profile else None)

    async def _account(self, session: AsyncSession, flow: LinkFlow) -> VkAccount:
        account = await get(session, VkAccount, flow.vk_account_id) if flow.vk_account_id else None
        if account is None:
            raise WrongState(flow.state, "The flow has no VK ID account.")
        return account

    async def _enter_code(
        self, session: AsyncSession, flow: LinkFlow, caller: Caller, now: datetime
    ) -> None:
        flow.state = "code"
        await self._issue(session, flow, "call", caller, now)

    async def _issue(
        self, session: AsyncSession, flow: LinkFlow, channel: str, caller: Caller, now: datetime
    ) -> None:
        assert flow.phone is not None
        await self._challenges.issue(
            session,
            owner_kind=OWNER,
            owner_id=flow.id,
            channel=channel,
            destination=flow.phone,
            caller=caller,
            now=now,
        )


def _require(flow: LinkFlow, *states: str) -> None:
    if flow.state not in states:
        raise WrongState(flow.state)


def _reset_identity(flow: LinkFlow) -> None:
    flow.scenario = None
    flow.vk_account_id = None
    flow.code_verified = False
    flow.chosen_profile_id = None
    flow.full_name = flow.birth_date = flow.gender = None


def _consent(flow: LinkFlow, profile_id: str | None, decision: str, now: datetime) -> Consent:
    return Consent(
        flow_id=flow.id,
        mesh_account_id=flow.mesh_account_id,
        profile_id=profile_id,
        decision=decision,
        decided_at=now,
    )


# A new flow's cancelling of the MESH account's open ones, built once (no statement building or
# cache key per request; an UPDATE's parameter may not be named as a column of its table).
# On the tables (`db.execute_core`).
_FLOWS, _CHALLENGES, _MESH = table(LinkFlow).c, table(Challenge).c, table(MeshAccount)
_OPEN_FLOWS = (
    _FLOWS.mesh_account_id == bindparam("b_mesh_account_id"),
    _FLOWS.state.not_in(TERMINAL_STATES),
)
_SUPERSEDE_CODES_OF_OPEN_FLOWS = (
    update(table(Challenge))
    .where(
        _CHALLENGES.owner_kind == OWNER,
        _CHALLENGES.owner_id.in_(select(_FLOWS.id).where(*_OPEN_FLOWS)),
        _CHALLENGES.status == "active",
    )
    .values(status="superseded")
)
_LINK_MESH = (
    update(_MESH)
    .where(_MESH.c.id == bindparam("mesh_id"), _MESH.c.linked_profile_id.is_(None))
    .values(linked_profile_id=bindparam("profile_id"), linked_at=bindparam("now"))
)
_CANCEL_OPEN_FLOWS = (
    update(table(LinkFlow))
    .where(*_OPEN_FLOWS)
    .values(state="cancelled", version=_FLOWS.version + 1)
)
