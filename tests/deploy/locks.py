"""Reading the hashed lock files and the pins of pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"

_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*(\\?)$")


def canonical(name: str) -> str:
    """PEP 503 name: `PyYAML` and `pyyaml`, `prometheus_client` and `prometheus-client` match."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Package → (version, number of hashes) for every entry of a pip-compile lock file."""
    entries: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ENTRY.match(line)
        if match:
            current = canonical(match.group(1))
            entries[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return entries


def pyproject_pins(*, extras: tuple[str, ...] = ()) -> dict[str, str]:
    """Package → exact version pinned in pyproject.toml (runtime, plus the given extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins: dict[str, str] = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        pins[canonical(re.sub(r"\[.*\]", "", name))] = version
    return pins
