"""compose.yaml, the Dockerfile and .env.example, read the way Docker would read them.

No Docker engine runs here, so these files are checked by parsing: every command our image runs
is one the test suite runs for real (tests/ops/test_webhook_replicas.py runs the bot's,
tests/linking/test_main.py the backend's), the image installs from the hashed lock as a non-root
user, and every variable compose passes or interpolates is a setting that exists.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from bot.config import Settings
from services.linking.settings import LinkingSettings
from tests.deploy.locks import ROOT
from tests.ops.replicas import MIGRATE, PROBE_MODULE, SERVE_WEBHOOK, SET_WEBHOOK

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")
BOT = ["python", "-m", "bot"]
BOT_VARIABLES = {name.upper() for name in Settings.model_fields}
BACKEND_VARIABLES = {f"LINKING_{name.upper()}" for name in LinkingSettings.model_fields}
OURS = {name for name, service in SERVICES.items() if "build" in service}


def test_the_deployment_has_the_replicas_their_stores_the_backend_and_the_jobs() -> None:
    assert set(SERVICES) == {
        "postgres",
        "redis",
        "linking",
        "migrate",
        "set-webhook",
        "bot",
        "proxy",
    }
    assert SERVICES["bot"]["deploy"]["replicas"] == 2
    assert SERVICES["bot"]["command"] == [*BOT, *SERVE_WEBHOOK]
    assert SERVICES["bot"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert SERVICES["set-webhook"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_command_of_our_image_is_one_the_suite_runs(name: str) -> None:
    service = SERVICES[name]
    commands = [service["command"]]
    if "healthcheck" in service:
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        commands.append(test[1:])
    for command in commands:
        if command[:3] == BOT:
            assert tuple(command[3:]) in {MIGRATE, SET_WEBHOOK, SERVE_WEBHOOK}, command
        elif command[:3] == ["python", "-m", PROBE_MODULE]:
            assert len(command) == 4 and command[3].startswith("http://127.0.0.1:"), command
        else:
            assert command[:3] == ["python", "-m", "services.linking"], command
            flags = {part for part in command[3:] if part.startswith("--")}
            runner = (ROOT / "tests" / "linking" / "test_main.py").read_text(encoding="utf-8")
            assert '"services.linking"' in runner
            assert all(f'"{flag}"' in runner for flag in flags), flags


def test_third_party_images_are_pinned_to_a_version() -> None:
    for name, service in SERVICES.items():
        if name in OURS:
            continue
        image = service["image"]
        assert re.fullmatch(r"[a-z0-9./-]+:\d+(\.\d+)+(-[a-z0-9]+)?", image), image


def test_what_compose_passes_to_our_processes_are_settings_that_exist() -> None:
    for name in OURS:
        environment = SERVICES[name].get("environment") or {}
        known = BACKEND_VARIABLES if name == "linking" else BOT_VARIABLES
        assert set(environment) <= known, (name, set(environment) - known)


def test_every_variable_compose_interpolates_is_in_env_example() -> None:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", text))
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, flags=re.MULTILINE))
    assert interpolated <= listed, interpolated - listed


def test_env_example_lists_every_setting_and_is_up_to_date() -> None:
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, flags=re.MULTILINE))
    assert listed >= BOT_VARIABLES | BACKEND_VARIABLES
    check = subprocess.run(
        [sys.executable, "scripts/env_example.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout
    # Secrets ship empty: a placeholder would be a secret everybody knows.
    for secret in ("BOT_TOKEN", "WEBHOOK_SECRET", "POSTGRES_PASSWORD", "LINKING_API_KEY"):
        assert re.search(rf"^{secret}=$", ENV_EXAMPLE, flags=re.MULTILINE), secret


def test_the_image_installs_the_lock_with_hashes_and_runs_as_a_user() -> None:
    instructions = [
        line.strip()
        for line in DOCKERFILE.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert instructions[0] == "FROM python:3.11-slim"
    run = " ".join(i for i in instructions if i.startswith("RUN"))
    assert "pip install --require-hashes -r requirements.lock" in run
    assert "pip install --no-deps --no-build-isolation -e ." in run
    users = [i.split()[1] for i in instructions if i.startswith("USER")]
    assert users and users[-1] not in {"root", "0"}
    assert instructions.index(f"USER {users[-1]}") > max(
        index for index, i in enumerate(instructions) if i.startswith("RUN")
    )
    for copy in (i for i in instructions if i.startswith("COPY")):
        for source in copy.split()[1:-1]:
            assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and ".venv" in ignored


def test_the_proxy_balances_the_replicas_and_keeps_operations_routes_private() -> None:
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    port = re.search(r"listen (\d+);", nginx).group(1)  # type: ignore[union-attr]
    assert SERVICES["proxy"]["ports"] == ["${PROXY_PORT:-8080}:" + port]
    webhook_port = SERVICES["bot"]["environment"]["WEBHOOK_PORT"]
    assert f"http://bot:{webhook_port};" in nginx
    assert "healthz|readyz|metrics" in nginx and "http_503" in nginx


def test_docker_waits_for_a_drain_longer_than_the_drain() -> None:
    grace = int(SERVICES["bot"]["stop_grace_period"].removesuffix("s"))
    assert grace > Settings.model_fields["shutdown_timeout"].default
