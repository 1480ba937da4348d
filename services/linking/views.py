"""JSON shapes of the API's objects (Profile, Challenge, Flow, Recovery) and log references."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from services.linking.codes import seconds_until
from services.linking.models import Challenge, MeshAccount, SferumProfile
from services.linking.phones import mask_email, mask_phone


def iso(moment: datetime | None) -> str | None:
    """`2026-11-25T10:00:00Z` (UTC, whole seconds)."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_ref(identifier: str) -> str:
    """A short stable reference to a flow or recovery id for logs; the id itself never is."""
    return "#" + hashlib.sha256(identifier.encode()).hexdigest()[:10]


def profile_view(profile: SferumProfile) -> dict[str, Any]:
    return {
        "profile_id": profile.id,
        "full_name": profile.full_name,
        "birth_date": profile.birth_date.isoformat(),
        "gender": profile.gender,
        "school": profile.school,
    }


def mesh_account_view(mesh: MeshAccount) -> dict[str, Any]:
    return {"id": mesh.id, "full_name": mesh.full_name, "school": mesh.school}


def challenge_view(challenge: Challenge | None, now: datetime) -> dict[str, Any] | None:
    if challenge is None:
        return None
    if challenge.channel == "email":
        sent_to = mask_email(challenge.destination)
    elif challenge.channel in ("call", "sms"):
        sent_to = mask_phone(challenge.destination)
    else:
        sent_to = None
    totp = challenge.channel == "totp"
    return {
        "challenge_id": challenge.id,
        "channel": challenge.channel,
        "code_length": challenge.code_length,
        "sent_to": sent_to,
        "expires_at": iso(challenge.expires_at),
        "resend_available_at": None if totp else iso(challenge.resend_available_at),
        "resend_after": seconds_until(challenge.resend_available_at, now),
        "attempts_left": challenge.attempts_left,
    }
