"""docs/security.md states every limit with the value the code has."""

from __future__ import annotations

import re
from pathlib import Path

from services.linking.settings import LinkingSettings

SECURITY_MD = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
LIMITS = re.compile(r"_per_(hour|day)$|_attempts$|_lock_seconds$|_resend_after$|_lifetime$|_ttl$")


def test_every_limit_is_documented_with_its_default() -> None:
    documented = dict(re.findall(r"^\| `LINKING_([A-Z_]+)` \| (\d+) \|", SECURITY_MD, re.MULTILINE))
    limits = {
        name: field.default
        for name, field in LinkingSettings.model_fields.items()
        if LIMITS.search(name) or name in ("password_hash_concurrency", "max_body_size")
    }
    assert limits, "no limits found"
    for name, default in limits.items():
        assert documented.get(name.upper()) == str(default), name
    assert set(documented) == {name.upper() for name in limits}
