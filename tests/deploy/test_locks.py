"""The lock files: every transitive dependency pinned with hashes, in step with pyproject.toml."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.deploy.locks import DEV_LOCK, ROOT, RUNTIME_LOCK, locked, pyproject_pins


def test_every_pyproject_dependency_is_pinned_exactly() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", requirement), requirement


@pytest.mark.parametrize(
    ("lock", "extras"), [(RUNTIME_LOCK, ()), (DEV_LOCK, ("dev",))], ids=["runtime", "dev"]
)
def test_the_lock_pins_what_pyproject_pins_and_hashes_every_entry(lock, extras) -> None:
    entries = locked(lock)
    for name, version in pyproject_pins(extras=extras).items():
        assert entries.get(name, ("missing",))[0] == version, (
            f"{lock.name} is stale for {name}: run `bash scripts/lock.sh`"
        )
    unhashed = [name for name, (_, hashes) in entries.items() if hashes == 0]
    assert unhashed == []
    # The installers come from the lock too (setup.sh builds the project without isolation).
    assert {"pip", "setuptools"} <= entries.keys()


def test_dev_installs_exactly_the_runtime_versions_plus_its_tools() -> None:
    runtime = {name: version for name, (version, _) in locked(RUNTIME_LOCK).items()}
    dev = {name: version for name, (version, _) in locked(DEV_LOCK).items()}
    assert {name: dev.get(name) for name in runtime} == runtime
    assert {"pytest", "ruff", "pyyaml"} <= dev.keys() - runtime.keys()


def test_setup_installs_from_the_lock_with_hashes_then_the_project_without_dependencies() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "--require-hashes -r" in setup
    assert "--no-deps --no-build-isolation -e ." in setup
