"""The layers point one way: no import cycle inside bot/, nothing under services/ imports bot/.

Imports are read from the source with `ast` (nothing is imported), so the test also sees imports
hidden inside functions, which are how cycles usually sneak back in.
"""

from __future__ import annotations

import ast
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


def _graph(package: str, *, top_level_only: bool) -> dict[str, set[str]]:
    modules = _modules(package)
    known = set(modules)
    return {
        name: {
            target
            for target in _imported(
                ast.parse(path.read_text(encoding="utf-8")), known, top_level_only=top_level_only
            )
            if target in known and target != name
        }
        for name, path in modules.items()
    }


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
