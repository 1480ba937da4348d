"""README promises: every setting is documented, the two commands exist as written, and every
file the README and the docs name exists."""

import re
from pathlib import Path

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", README, flags=re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from README"
    assert documented - expected == set(), "README documents settings that do not exist"


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    for command in ("./scripts/run.sh", "./scripts/test.sh"):
        assert command in README
        assert (ROOT / command).is_file()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_no_reference_leaves_the_repository_and_every_file_named_exists() -> None:
    assert "../" not in README
    named = set(re.findall(r"`([\w./-]+\.(?:py|md|sh|yaml|conf|lock|toml|png|example))`", README))
    named |= set(re.findall(r"\]\(([\w./-]+)\)", README))  # links to files
    assert named, "the README names files of the repository"
    # A bare name (`run.sh`) is a script or a file at the top.
    missing = {
        path
        for path in named
        if not (ROOT / path).exists() and ("/" in path or not (ROOT / "scripts" / path).exists())
    }
    assert missing == set()


def test_every_file_the_docs_name_exists() -> None:
    # Tests move between subject folders (tests/README.md); a doc must not point at the old place.
    docs = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "tests" / "README.md"]
    pattern = r"(?<![\w/])((?:bot|services|tests|scripts|bench|docs)/[\w./-]+\.(?:py|md|sh|yaml))"
    named = {
        (doc.relative_to(ROOT).as_posix(), path)
        for doc in docs
        for path in re.findall(pattern, doc.read_text(encoding="utf-8"))
    }
    assert any(path.startswith("tests/") for _, path in named), "the docs name their tests"
    assert {(doc, path) for doc, path in named if not (ROOT / path).exists()} == set()


def test_every_test_folder_is_listed_by_its_subject() -> None:
    listed = re.findall(
        r"^\| `(\w+)/` \|", (ROOT / "tests" / "README.md").read_text(encoding="utf-8"), re.M
    )
    folders = {p.parent.name for p in (ROOT / "tests").glob("*/__init__.py")}
    assert sorted(listed) == sorted(folders), "tests/README.md lists each folder once"


def test_production_section_covers_deploying_tls_the_helpdesk_and_a_real_backend() -> None:
    from bot.webhook import GENERATE_SECRET

    production = README.split("## Production", 1)[1].split("\n## ", 1)[0]
    for promise in (
        "docker compose up",
        "python -m bot migrate",
        "set-webhook",
        "TLS",
        "Manage Topics",
        "-100",
        "LINKING_API_URL",
        "scripts/lock.sh",
        GENERATE_SECRET.removeprefix("python -c ").strip('"'),
    ):
        assert promise in production, promise
    assert (ROOT / "compose.yaml").is_file() and (ROOT / "Dockerfile").is_file()
