"""Who is calling: the API client (by its key) and the end user it acts for.

The bot sends the teacher's Telegram user id as `X-End-User-Id` on every flow and recovery
call. Flows and recoveries belong to the end user who opened them, and quotas are kept per end
user and per API key, so one caller cannot flood numbers with calls, SMS or e-mails.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

END_USER_HEADER = "X-End-User-Id"
# The e-journal's own linking window names the MESH account it acts for (guide mode).
MESH_ACCOUNT_HEADER = "X-Mesh-Account-Id"
_END_USER_ID = re.compile(r"^[A-Za-z0-9_:.-]{1,64}$")
ANONYMOUS_CLIENT = "anonymous"  # no API key configured (demo): all callers share one quota


@dataclass(frozen=True)
class Caller:
    """`client`: a short fingerprint of the API key; `end_user`: e.g. a Telegram user id."""

    client: str
    end_user: str


def plausible_end_user_id(value: str) -> bool:
    """Telegram ids and similar short ASCII ids; anything else is refused as a bad request."""
    return bool(_END_USER_ID.fullmatch(value))


def client_fingerprint(api_key: str | None) -> str:
    """A stable name for the API key that never reveals it (logs and budget subjects)."""
    if not api_key:
        return ANONYMOUS_CLIENT
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
