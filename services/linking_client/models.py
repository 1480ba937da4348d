"""The API's objects as frozen dataclasses (docs/linking-api.md, "Objects"), with their parsers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, cast

from services.linking_client.parsing import (
    _as_list,
    _bool,
    _choice,
    _date,
    _datetime,
    _enum,
    _int,
    _list,
    _MalformedAnswer,
    _obj,
    _opt_bool,
    _opt_datetime,
    _opt_int,
    _opt_str,
    _str,
)
from services.phones import mask_phone

Channel = Literal["call", "sms", "email", "totp", "friend"]
CodeChannel = Literal["call", "sms"]
RecoveryMethod = Literal["totp", "email", "friends"]
"""What a teacher may choose; `Recovery.methods` may also say "sms" (no other method: the SMS
code that started the recovery was the confirmation)."""
Gender = Literal["female", "male"]
DemoCase = Literal[
    "no_vkid",
    "vkid_no_profile",
    "profile_exists",
    "profile_exists_authorised",
    "already_linked",
    "forgot_password_email",
    "forgot_password_app",
    "forgot_password_friends",
    "vpn",
    "registered_no_password",
]

_CHANNELS: frozenset[str] = frozenset({"call", "sms", "email", "totp", "friend"})
_GENDERS: frozenset[str] = frozenset({"female", "male"})
_RECOVERY_METHODS: frozenset[str] = frozenset({"totp", "email", "friends", "sms"})


class FlowState(StrEnum):
    PHONE = "phone"
    PASSWORD = "password"
    CODE = "code"
    PROFILE = "profile"
    PERSONAL_DATA = "personal_data"
    CONSENT = "consent"
    LINKED = "linked"
    CANCELLED = "cancelled"


class RecoveryState(StrEnum):
    CODE = "code"
    CONFIRM_ACCOUNT = "confirm_account"
    METHOD = "method"
    METHOD_CODE = "method_code"
    NEW_PASSWORD = "new_password"
    REPEAT_PASSWORD = "repeat_password"
    DONE = "done"
    FRIENDS = "friends"
    CANCELLED = "cancelled"


class Scenario(StrEnum):
    NEW_PROFILE = "new_profile"
    EXISTING_PROFILE = "existing_profile"
    REGISTRATION = "registration"


@dataclass(frozen=True, slots=True)
class MeshAccount:
    """The teacher's account in the MESH e-journal."""

    id: str
    full_name: str
    school: str

    @classmethod
    def from_json(cls, data: Any) -> MeshAccount:
        data = _obj(data, "mesh_account")
        return cls(
            id=_str(data, "id"), full_name=_str(data, "full_name"), school=_str(data, "school")
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """A Sferum profile (existing, or the one just linked)."""

    profile_id: str
    full_name: str
    birth_date: date
    gender: Gender
    school: str

    @classmethod
    def from_json(cls, data: Any) -> Profile:
        data = _obj(data, "profile")
        return cls(
            profile_id=_str(data, "profile_id"),
            full_name=_str(data, "full_name"),
            birth_date=_date(data, "birth_date"),
            gender=_choice(data, "gender", _GENDERS),
            school=_str(data, "school"),
        )


@dataclass(frozen=True, slots=True)
class VkAccountView:
    """What the backend reveals about a VK ID account: a masked name, and whether this device's
    session is already authorised (then scenario B skips the password). Recoveries carry only
    the name; `session_authorised` is False there."""

    masked_name: str
    session_authorised: bool = False

    @classmethod
    def from_json(cls, data: Any) -> VkAccountView:
        data = _obj(data, "vk_account")
        return cls(
            masked_name=_str(data, "masked_name"),
            session_authorised=_opt_bool(data, "session_authorised") or False,
        )


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Name, birth date and gender as the teacher entered them (or prefilled from a profile)."""

    full_name: str
    birth_date: date
    gender: Gender

    @classmethod
    def from_json(cls, data: Any) -> PersonalData:
        data = _obj(data, "personal_data")
        return cls(
            full_name=_str(data, "full_name"),
            birth_date=_date(data, "birth_date"),
            gender=_choice(data, "gender", _GENDERS),
        )


@dataclass(frozen=True, slots=True)
class Challenge:
    """A confirmation code in flight.

    `resend_after` and `expires_at` are as the server saw them when it answered; the helpers
    below let the bot count down without asking again.
    """

    challenge_id: str
    channel: Channel
    code_length: int
    sent_to: str | None
    expires_at: datetime
    resend_available_at: datetime | None
    resend_after: int
    attempts_left: int

    @classmethod
    def from_json(cls, data: Any) -> Challenge:
        data = _obj(data, "challenge")
        return cls(
            challenge_id=_str(data, "challenge_id"),
            channel=_choice(data, "channel", _CHANNELS),
            code_length=_int(data, "code_length"),
            sent_to=_opt_str(data, "sent_to"),
            expires_at=_datetime(data, "expires_at"),
            resend_available_at=_opt_datetime(data, "resend_available_at"),
            resend_after=_opt_int(data, "resend_after") or 0,
            attempts_left=_int(data, "attempts_left"),
        )

    @property
    def can_resend(self) -> bool:
        """Whether a new code could be asked for at the time of the answer."""
        return self.resend_after <= 0

    def seconds_until_resend(self, now: datetime) -> int:
        """Whole seconds from `now` until a new code may be asked for (0 = now).

        Uses the server's absolute time when given (it survives a restart of the bot); falls
        back to `resend_after`, which is only meaningful at response time.
        """
        if self.resend_available_at is None:
            return max(self.resend_after, 0)
        return max(0, _ceil_seconds(self.resend_available_at - now))

    def seconds_until_expiry(self, now: datetime) -> int:
        """Whole seconds from `now` until the code expires (0 = expired)."""
        return max(0, _ceil_seconds(self.expires_at - now))

    def is_expired(self, now: datetime) -> bool:
        """Whether the code is past its expiry at `now`."""
        return now >= self.expires_at


def _ceil_seconds(delta: timedelta) -> int:
    seconds = delta.total_seconds()
    whole = int(seconds)
    return whole + 1 if seconds > whole else whole


@dataclass(frozen=True, slots=True)
class Flow:
    """One teacher's link flow: MESH account → VK ID → Sferum profile."""

    flow_id: str
    state: FlowState
    scenario: Scenario | None
    mesh_account: MeshAccount
    phone_masked: str | None
    vk_account: VkAccountView | None
    challenge: Challenge | None
    profiles: tuple[Profile, ...]
    personal_data: PersonalData | None
    linked_profile: Profile | None
    expires_at: datetime

    @classmethod
    def from_json(cls, data: Any) -> Flow:
        data = _obj(data, "flow")
        scenario = data.get("scenario")
        vk_account = data.get("vk_account")
        challenge = data.get("challenge")
        personal_data = data.get("personal_data")
        linked_profile = data.get("linked_profile")
        return cls(
            flow_id=_str(data, "flow_id"),
            state=_enum(data, "state", FlowState),
            scenario=None if scenario is None else _enum(data, "scenario", Scenario),
            mesh_account=MeshAccount.from_json(data.get("mesh_account")),
            phone_masked=_opt_str(data, "phone_masked"),
            vk_account=None if vk_account is None else VkAccountView.from_json(vk_account),
            challenge=None if challenge is None else Challenge.from_json(challenge),
            profiles=tuple(Profile.from_json(item) for item in _list(data, "profiles")),
            personal_data=None if personal_data is None else PersonalData.from_json(personal_data),
            linked_profile=None if linked_profile is None else Profile.from_json(linked_profile),
            expires_at=_datetime(data, "expires_at"),
        )

    @property
    def is_finished(self) -> bool:
        """Linked or cancelled: no further step is possible."""
        return self.state in (FlowState.LINKED, FlowState.CANCELLED)

    @property
    def needs_password(self) -> bool:
        """Whether the next step is the VK ID password."""
        return self.state is FlowState.PASSWORD


@dataclass(frozen=True, slots=True)
class TrustedFriend:
    """A trusted friend asked for a code, and whether the teacher has entered it."""

    name: str
    confirmed: bool

    @classmethod
    def from_json(cls, data: Any) -> TrustedFriend:
        data = _obj(data, "friend")
        return cls(name=_str(data, "name"), confirmed=_bool(data, "confirmed"))


@dataclass(frozen=True, slots=True)
class Recovery:
    """A VK ID password recovery."""

    recovery_id: str
    state: RecoveryState
    phone_masked: str
    account: VkAccountView | None
    methods: tuple[str, ...]
    email_masked: str | None
    challenge: Challenge | None
    logout_other_sessions: bool | None
    friends: tuple[TrustedFriend, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> Recovery:
        data = _obj(data, "recovery")
        account = data.get("account")
        challenge = data.get("challenge")
        methods = _list(data, "methods")
        if not all(isinstance(m, str) and m in _RECOVERY_METHODS for m in methods):
            raise _MalformedAnswer("methods: unexpected value")
        return cls(
            recovery_id=_str(data, "recovery_id"),
            state=_enum(data, "state", RecoveryState),
            phone_masked=_str(data, "phone_masked"),
            account=None if account is None else VkAccountView.from_json(account),
            methods=tuple(methods),
            email_masked=_opt_str(data, "email_masked"),
            challenge=None if challenge is None else Challenge.from_json(challenge),
            logout_other_sessions=_opt_bool(data, "logout_other_sessions"),
            friends=tuple(TrustedFriend.from_json(f) for f in _as_list(data.get("friends") or [])),
        )

    @property
    def is_finished(self) -> bool:
        """Done or cancelled: no further step is possible."""
        return self.state in (RecoveryState.DONE, RecoveryState.CANCELLED)


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """One thing that happened to a flow (docs/linking-api.md, "Flow events").

    `kind`: `step` (the flow moved to `state`; `from_state` where it was), `code_sent`
    (`channel`, `resend_after`), `refusal` (`code` and, where they apply, `attempts_left`,
    `retry_after`), `recovery` (`recovery_state` of a password recovery started from the flow),
    `screen` (the e-journal's window says which of its screens it shows: `screen`).
    `source`: who made it happen, `bot` or `journal` (the e-journal's window). States stay plain
    strings so that a backend with more states than this client knows still reads.
    """

    seq: int
    kind: str
    state: str | None
    source: str
    at: datetime
    scenario: str | None = None
    from_state: str | None = None
    channel: str | None = None
    resend_after: int | None = None
    code: str | None = None
    attempts_left: int | None = None
    retry_after: int | None = None
    recovery_state: str | None = None
    profile_exists: bool = False
    screen: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> FlowEvent:
        data = _obj(data, "event")
        return cls(
            seq=_int(data, "seq"),
            kind=_str(data, "kind"),
            state=_opt_str(data, "state"),
            source=_str(data, "source"),
            at=_datetime(data, "at"),
            scenario=_opt_str(data, "scenario"),
            from_state=_opt_str(data, "from"),
            channel=_opt_str(data, "channel"),
            resend_after=_opt_int(data, "resend_after"),
            code=_opt_str(data, "code"),
            attempts_left=_opt_int(data, "attempts_left"),
            retry_after=_opt_int(data, "retry_after"),
            recovery_state=_opt_str(data, "recovery_state"),
            profile_exists=bool(_opt_bool(data, "profile_exists")),
            screen=_opt_str(data, "screen"),
        )


@dataclass(frozen=True, slots=True)
class FlowEvents:
    """A page of a flow's events: those after the asked `seq`, and where to go on (`next`)."""

    flow_id: str
    state: str
    events: tuple[FlowEvent, ...]
    next: int

    @classmethod
    def from_json(cls, data: Any) -> FlowEvents:
        data = _obj(data, "flow events")
        return cls(
            flow_id=_str(data, "flow_id"),
            state=_str(data, "state"),
            events=tuple(FlowEvent.from_json(item) for item in _list(data, "events")),
            next=_int(data, "next"),
        )


@dataclass(frozen=True, slots=True)
class LinkToken:
    """A one-time deep-link ticket for one MESH account.

    `POST /v1/link-tokens` gives `expires_at`; `POST /dev/link-token` gives `deep_link_payload`.
    """

    token: str
    expires_at: datetime | None = None
    deep_link_payload: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> LinkToken:
        data = _obj(data, "link token")
        return cls(
            token=_str(data, "token"),
            expires_at=_opt_datetime(data, "expires_at"),
            deep_link_payload=_opt_str(data, "deep_link_payload"),
        )


@dataclass(frozen=True, slots=True)
class DevAccount:
    """A demo teacher of the simulation (dev endpoints only).

    `vk_password` is the password she knows now (a finished recovery replaces the seeded one);
    `linked_profile` is the Sferum profile her MESH account is linked to, if any. The fields
    after `case` are optional so that older answers still parse.
    """

    mesh_account_id: str
    full_name: str
    phone: str
    email: str | None
    vk_password: str | None
    case: DemoCase
    school: str | None = None
    birth_date: date | None = None
    gender: Gender | None = None
    vpn: bool = False
    authenticator_app: bool = False
    linked_profile: Profile | None = None

    @classmethod
    def from_json(cls, data: Any) -> DevAccount:
        data = _obj(data, "dev account")
        birth_date = _opt_str(data, "birth_date")
        gender = _opt_str(data, "gender")
        if gender is not None and gender not in _GENDERS:
            raise _MalformedAnswer(f"gender: unexpected value {gender!r}")
        linked = data.get("linked_profile")
        return cls(
            mesh_account_id=_str(data, "mesh_account_id"),
            full_name=_str(data, "full_name"),
            phone=_str(data, "phone"),
            email=_opt_str(data, "email"),
            vk_password=_opt_str(data, "vk_password"),
            case=cast(DemoCase, _str(data, "case")),
            school=_opt_str(data, "school"),
            birth_date=None if birth_date is None else _date(data, "birth_date"),
            gender=cast(Gender | None, gender),
            vpn=bool(_opt_bool(data, "vpn")),
            authenticator_app=bool(_opt_bool(data, "authenticator_app")),
            linked_profile=None if linked is None else Profile.from_json(linked),
        )

    def __repr__(self) -> str:
        # Keep the demo password and the full phone out of logs and test failure output.
        return (
            f"DevAccount(mesh_account_id={self.mesh_account_id!r}, case={self.case!r}, "
            f"phone={mask_phone(self.phone)!r})"
        )


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A code "delivered" to the dev inbox (SMS, call) or mailbox (e-mail)."""

    channel: Channel
    code: str
    text: str
    at: datetime

    @classmethod
    def from_json(cls, data: Any) -> InboxItem:
        data = _obj(data, "inbox item")
        return cls(
            channel=_choice(data, "channel", _CHANNELS),
            code=_str(data, "code"),
            text=_str(data, "text"),
            at=_datetime(data, "at"),
        )


@dataclass(frozen=True, slots=True)
class FriendInbox:
    """A trusted friend of a demo VK ID and the codes that reached them (dev only)."""

    name: str
    inbox: tuple[InboxItem, ...]

    @classmethod
    def from_json(cls, data: Any) -> FriendInbox:
        data = _obj(data, "friend inbox")
        return cls(
            name=_str(data, "name"),
            inbox=tuple(InboxItem.from_json(item) for item in _list(data, "inbox")),
        )
