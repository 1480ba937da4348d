"""The layers point one way: no import cycle inside bot/, nothing under services/ imports bot/.

Imports are read from the source with `ast` (nothing is imported), so the test also sees imports
hidden inside functions, which are how cycles usually sneak back in.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _imported(tree: ast.AST, known: set[str], *, top_level_only: bool) -> Iterator[str]:
    """Modules named by the import statements of `tree` (a name imported from a package counts
    as its submodule when there is one)."""
    nodes = ast.iter_child_nodes(tree) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = [f"{node.module}.{alias.name}" for alias in node.names]
            found = [name for name in submodules if name in known]
            yield from found or [node.module]


def _with_packages(importer: str, target: str, known: set[str]) -> set[str]:
    """`target` and the packages whose `__init__` importing it runs first: importing
    `bot.dialogs.x` from outside `bot.dialogs` runs `bot/dialogs/__init__.py`, and whatever that
    imports, before `x` (a cycle through a package `__init__` is a real one)."""
    edges = {target}
    parts = target.split(".")
    for end in range(1, len(parts)):
        package = ".".join(parts[:end])
        inside = importer == package or importer.startswith(package + ".")
        if package in known and not inside:  # a module's own packages already ran
            edges.add(package)
    return edges


def _graph(package: str, *, top_level_only: bool) -> dict[str, set[str]]:
    modules = _modules(package)
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = _imported(tree, known, top_level_only=top_level_only)
        graph[name] = {
            edge
            for target in targets
            if target in known
            for edge in _with_packages(name, target, known)
            if edge != name
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of modules (Tarjan), each as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_importing_a_submodule_runs_its_packages_init_first() -> None:
    known = {"bot", "bot.dialogs", "bot.dialogs.ticker", "bot.dialogs.guide", "bot.deps"}
    assert _with_packages("bot.deps", "bot.dialogs.ticker", known) == {
        "bot.dialogs",
        "bot.dialogs.ticker",
    }
    # A sibling inside the package: the package's __init__ is already running.
    assert _with_packages("bot.dialogs.guide", "bot.dialogs.ticker", known) == {
        "bot.dialogs.ticker"
    }


def test_no_import_cycle_within_bot() -> None:
    graph = _graph("bot", top_level_only=False)
    assert "bot.dialogs.steps" in graph  # the walk found the modules
    assert _cycles(graph) == []


def test_bot_modules_import_bot_modules_only_at_the_top() -> None:
    """A bot module imported inside a function hides a dependency (and, often, a cycle)."""
    whole = _graph("bot", top_level_only=False)
    top = _graph("bot", top_level_only=True)
    hidden = {name: sorted(whole[name] - top[name]) for name in whole if whole[name] - top[name]}
    assert hidden == {}


def test_services_never_import_bot() -> None:
    offenders = set()
    for path in sorted((ROOT / "services").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = _imported(tree, set(), top_level_only=False)
        if any(name == "bot" or name.startswith("bot.") for name in names):
            offenders.add(path.relative_to(ROOT).as_posix())
    assert offenders == set()


def test_every_bot_module_imports_first() -> None:
    """Each module of bot/ imported first in a fresh `bot` package (what `python -m bot` or a
    test does when it starts from that module) — catches the cycles the graph might not see."""
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m == 'bot' or m.startswith('bot.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed.append(f'{name}: {error!r}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    modules = sorted(name for name in _modules("bot") if not name.endswith("__main__"))
    done = subprocess.run(
        [sys.executable, "-c", script, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
