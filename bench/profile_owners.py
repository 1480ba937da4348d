"""Self time by owner from cProfile: who spends the bot's CPU (the framework, the harness, ours).

`scenario_bench.py --profile-owners` profiles the echo harness's timed window and the bot's
(cProfile enabled after the harness's `gc.collect`, disabled when the last teacher is done) and
prints them side by side with `report`. A function's self time goes to the owner of its file
(`OWNERS`, one table); a C function or generated code (a dataclass's `__init__`) has no file of
its own, so its self time goes to the Python functions that called it, split by what each call
edge took. The event loop's idle poll is left out (`LEFT_OUT`): it is waiting, not work.
cProfile costs about the same per call, Python or C (~2 µs here), so it inflates code of many
small calls the most; `report`'s "est." column takes that cost out, per owner, by its calls.

Standard library only, so that tests import it without the bench's dependencies.
"""

from __future__ import annotations

import sysconfig
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# pstats' shape: (file, line, function) → (primitive calls, calls, self s, cumulative s, callers),
# callers: caller key → (calls, primitive calls, self s, cumulative s) of that call edge.
Key = tuple[str, int, str]
Edge = tuple[int, int, float, float]
Entry = tuple[int, int, float, float, Mapping[Key, Edge]]
Stats = Mapping[Key, Entry]

ROOT = Path(__file__).resolve().parents[1]
STDLIB = sysconfig.get_paths()["stdlib"]

# Who owns a file: "site:<top-level package>", "stdlib:<top-level module>" or "repo:<top folder>".
OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aiogram (incl. magic_filter)", ("site:aiogram", "site:magic_filter")),
    ("aiogram-dialog", ("site:aiogram_dialog",)),
    ("pydantic", ("site:pydantic", "site:pydantic_core", "site:annotated_types")),
    (
        "SQLAlchemy + aiosqlite / asyncpg",
        ("site:sqlalchemy", "site:aiosqlite", "site:asyncpg", "site:greenlet", "stdlib:sqlite3"),
    ),
    ("asyncio", ("stdlib:asyncio", "stdlib:selectors")),
    (
        "aiohttp + multidict + yarl",
        (
            "site:aiohttp",
            "site:multidict",
            "site:yarl",
            "site:propcache",
            "site:frozenlist",
            "site:aiosignal",
            "site:aiohappyeyeballs",
        ),
    ),
    (
        "babel, prometheus_client, phonenumbers",
        ("site:babel", "site:prometheus_client", "site:phonenumbers"),
    ),
    ("harness (bench/, tests/)", ("repo:bench", "repo:tests")),
    ("ours (bot/, services/)", ("repo:bot", "repo:services")),
)
OTHER_STDLIB = "other standard library"
OTHER_PACKAGES = "other packages"
UNATTRIBUTED = "C, no Python caller"
BROKEN_DOWN = "ours (bot/, services/)"  # shown with one line per package (bot/dialogs …)

# C functions whose time is not the bot's work.
LEFT_OUT: Mapping[str, str] = {
    "<method 'poll' of 'select.epoll' objects>": "the event loop's idle poll",
    "<method 'poll' of 'select.poll' objects>": "the event loop's idle poll",
    "<built-in method gc.collect>": "the bench's gc.collect",
}

# Counted per update: (label, file ending, function). Each is a function that runs exactly once
# per event and never suspends (cProfile counts every resumption of a coroutine as a call).
COUNTED: tuple[tuple[str, str, str], ...] = (
    ("Bot API calls", "tests/support/fake_telegram.py", "make_request"),  # FakeTelegram's
    # ManagerImpl.show: once after each window's render
    ("dialog renders", "aiogram_dialog/manager/manager.py", "_ensure_stack_compatible"),
    (
        "pydantic validations (validate_python)",
        "~",
        "<method 'validate_python' of 'pydantic_core._pydantic_core.SchemaValidator' objects>",
    ),
    ("pydantic models built (BaseModel.__init__)", "pydantic/main.py", "__init__"),
)
PYTHON_CALLS = "Python function calls"
C_CALLS = "C function calls"


def place(filename: str, root: str | Path = ROOT, stdlib: str = STDLIB) -> str:
    """The file's place in `OWNERS`' terms, plus the repository's package: "repo:bot/dialogs"."""
    path = filename.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return "site:" + path.rsplit(marker, 1)[1].split("/")[0].removesuffix(".py")
    root_prefix = str(root).rstrip("/") + "/"
    if path.startswith(root_prefix):
        parts = path[len(root_prefix) :].split("/")
        return "repo:" + "/".join(part.removesuffix(".py") for part in parts[:2])
    stdlib_prefix = stdlib.rstrip("/") + "/"
    if path.startswith(stdlib_prefix):
        return "stdlib:" + path[len(stdlib_prefix) :].split("/")[0].removesuffix(".py")
    if path.startswith("<frozen "):  # importlib, codecs …: frozen standard library
        return "stdlib:" + path.removeprefix("<frozen ").rstrip(">").split(".")[0]
    return "unknown:" + path


def owner(where: str) -> str:
    """The owner of a place from `place`; a repository place owns by its top folder."""
    top = where.split("/")[0]
    for name, places in OWNERS:
        if top in places:
            return name
    return OTHER_STDLIB if where.startswith("stdlib:") else OTHER_PACKAGES


def has_file(key: Key) -> bool:
    """A Python function with a file of its own (not C, not generated code like "<string>")."""
    filename = key[0]
    return filename != "~" and (not filename.startswith("<") or filename.startswith("<frozen "))


def spread(stats: Stats, key: Key, amount: float, index: int = 2) -> Iterator[tuple[Key, float]]:
    """`amount` of a function without a file, split over the Python functions that called it, in
    proportion to field `index` of each call edge (self time at the first step; cumulative time
    when the caller is itself C, since its callee's time was inside it). A chain that ends
    without a Python caller (a root call, a cycle of C functions) yields ("~", 0, "")."""
    yield from _spread(stats, key, amount, index, frozenset({key}))


def _spread(
    stats: Stats, key: Key, amount: float, index: int, seen: frozenset[Key]
) -> Iterator[tuple[Key, float]]:
    callers = stats[key][4] if key in stats else {}
    total = sum(edge[index] for edge in callers.values())
    if total <= 0:
        yield ("~", 0, ""), amount
        return
    for caller, edge in callers.items():
        part = amount * edge[index] / total
        if has_file(caller):
            yield caller, part
        elif caller in seen:
            yield ("~", 0, ""), part
        else:
            yield from _spread(stats, caller, part, 3, seen | {caller})


@dataclass
class Owners:
    """One profile by owner: self seconds (of which in C functions) and calls, per owner and per
    place ("repo:bot/dialogs" …). Calls are Python and C calls charged like their time: a C
    call to its Python callers' owners."""

    seconds: Counter[str] = field(default_factory=Counter)
    c_seconds: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)  # Python calls, the owner's own
    c_calls: Counter[str] = field(default_factory=Counter)  # C calls charged to the owner
    by_place: Counter[str] = field(default_factory=Counter)  # seconds
    place_calls: Counter[str] = field(default_factory=Counter)  # Python + C calls
    left_out: Counter[str] = field(default_factory=Counter)  # seconds per `LEFT_OUT` reason
    counts: Counter[str] = field(default_factory=Counter)  # `COUNTED`, PYTHON_CALLS, C_CALLS

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def events(self, name: str) -> float:
        return self.calls[name] + self.c_calls[name]

    def cost_per_call(self, updates: int, cpu_ms: float) -> float | None:
        """cProfile's own cost per call in ms, from this run's profiled total against the CPU
        the same code took unprofiled (`cpu_ms` per update): it is paid per call, so code of many
        small calls is inflated the most."""
        calls = sum(self.calls.values()) + sum(self.c_calls.values())
        if not cpu_ms or not calls:
            return None
        return (self.total * 1000 - cpu_ms * updates) / calls


def by_owner(stats: Stats, root: str | Path = ROOT, stdlib: str = STDLIB) -> Owners:
    result = Owners()
    places: dict[Key, str] = {}

    def charge(key: Key, seconds: float, *, c: bool, calls: float = 0.0) -> None:
        if key[0] == "~":  # no Python caller anywhere up the chain
            where, name = UNATTRIBUTED, UNATTRIBUTED
        else:
            if key not in places:
                places[key] = place(key[0], root, stdlib)
            where, name = places[key], owner(places[key])
        result.seconds[name] += seconds
        result.c_seconds[name] += seconds if c else 0.0
        (result.c_calls if c else result.calls)[name] += calls
        result.by_place[where] += seconds
        result.place_calls[where] += calls

    for key, (_primitive, calls, self_seconds, _cumulative, _callers) in stats.items():
        for label, ending, function in COUNTED:
            if key[2] == function and key[0].replace("\\", "/").endswith(ending):
                result.counts[label] += calls
        c = key[0] == "~"
        result.counts[C_CALLS if c else PYTHON_CALLS] += calls
        if c and key[2] in LEFT_OUT:
            result.left_out[LEFT_OUT[key[2]]] += self_seconds
        elif has_file(key):
            charge(key, self_seconds, c=False, calls=calls)
        else:  # C, or generated Python code (a dataclass's __init__): its callers' owners'
            for caller, part in spread(stats, key, self_seconds):
                charge(caller, part, c=c)
            for caller, part in spread(stats, key, float(calls), index=0):
                charge(caller, 0.0, c=c, calls=part)
    return result


# One column group per run: (heading, width, format).
COLUMNS = (("ms/upd", 8, ".3f"), ("%", 6, ".1f"), ("of it C", 8, ".3f"), ("calls", 7, ".0f"))
ESTIMATE = ("est.", 7, ".2f")


def report(columns: Mapping[str, tuple[Owners, int]], cpu: Mapping[str, float]) -> str:
    """Side by side, one column group per run: ms per update, %, of it in C functions, calls per
    update and the estimate without cProfile's cost per call. `columns`: run name → (its profile
    by owner, its updates); `cpu`: run name → CPU per update in ms without the profiler."""
    runs = [(name, profile, max(updates, 1)) for name, (profile, updates) in columns.items()]
    costs = [p.cost_per_call(u, cpu.get(name, 0.0)) for name, p, u in runs]
    group = sum(width for _, width, _ in (*COLUMNS, ESTIMATE))
    width = 42
    lines = [
        f"{'':<{width}}" + "".join(f"{name[: group - 1]:>{group}}" for name, _, _ in runs),
        f"{'owner':<{width}}"
        + "".join(f"{head:>{w}}" for _ in runs for head, w, _ in (*COLUMNS, ESTIMATE)),
    ]

    def row(label: str, cells: list[tuple[float | None, ...]]) -> str:
        text = ""
        for values in cells:
            for value, (_, w, form) in zip(values, (*COLUMNS, ESTIMATE), strict=True):
                text += f"{'':>{w}}" if value is None else f"{value:>{w}{form}}"
        return f"{label[:width]:<{width}}{text}".rstrip()

    names = [name for name, _ in OWNERS] + [OTHER_STDLIB, OTHER_PACKAGES, UNATTRIBUTED]
    for name in names:
        if all(p.seconds[name] == 0 for _, p, _ in runs):
            continue
        lines.append(
            row(
                name,
                [
                    _cells(p.seconds[name], p.c_seconds[name], p.events(name), p.total, u, cost)
                    for (_, p, u), cost in zip(runs, costs, strict=True)
                ],
            )
        )
        if name == BROKEN_DOWN:
            for label, members in _places(runs):
                lines.append(
                    row(
                        "  " + label,
                        [
                            _cells(
                                sum(p.by_place[w] for w in members),
                                None,
                                sum(p.place_calls[w] for w in members),
                                p.total,
                                u,
                                cost,
                            )
                            for (_, p, u), cost in zip(runs, costs, strict=True)
                        ],
                    )
                )
    everything = [
        _cells(
            p.total,
            sum(p.c_seconds.values()),
            sum(p.calls.values()) + sum(p.c_calls.values()),
            p.total,
            u,
            cost,
        )
        for (_, p, u), cost in zip(runs, costs, strict=True)
    ]
    lines.append(row("all (profiled, the loop's thread)", everything))
    lines.append("")
    lines.append(f"{'per update':<{width}}" + "".join(f"{name[:28]:>29}" for name, _, _ in runs))
    for label in [PYTHON_CALLS, C_CALLS] + [label for label, _, _ in COUNTED]:
        values = "".join(f"{p.counts[label] / u:>29.1f}" for _, p, u in runs)
        lines.append(f"{label[:width]:<{width}}{values}")
    for reason in sorted({reason for _, p, _ in runs for reason in p.left_out}):
        values = "".join(f"{p.left_out[reason] / u * 1000:>29.3f}" for _, p, u in runs)
        lines.append(f"{('left out, ms: ' + reason)[:width]:<{width}}{values}")
    scale = "".join(f"{cpu.get(name, 0.0):>29.3f}" for name, _, _ in runs)
    lines.append(f"{'CPU ms without the profiler (its best run)':<{width}}{scale}")
    inflation = "".join(
        f"{p.total / u * 1000 / cpu[name]:>28.1f}×" if cpu.get(name) else f"{'-':>29}"
        for name, p, u in runs
    )
    lines.append(f"{'profiled ÷ without the profiler':<{width}}{inflation}")
    per_call = "".join(f"{cost * 1000:>29.2f}" if cost else f"{'-':>29}" for cost in costs)
    lines.append(f"{'cProfile cost per call, µs':<{width}}{per_call}")
    return "\n".join(lines)


def _cells(
    seconds: float,
    c_seconds: float | None,
    calls: float,
    total: float,
    updates: int,
    cost: float | None,
) -> tuple[float | None, ...]:
    """ms/upd, %, of it C, calls/upd and the estimate without cProfile's cost per call."""
    ms = seconds / updates * 1000
    return (
        ms,
        seconds / (total or 1.0) * 100,
        None if c_seconds is None else c_seconds / updates * 1000,
        calls / updates,
        None if cost is None else ms - cost * calls / updates,
    )


def _places(runs: list[tuple[str, Owners, int]]) -> list[tuple[str, list[str]]]:
    """The broken-down owner's packages, largest first in the last run; those under 0.5 % of
    the last run's total in one line."""
    last = runs[-1][1]
    places = {w for _, p, _ in runs for w in p.by_place if owner(w) == BROKEN_DOWN}
    shown = sorted(
        (w for w in places if last.by_place[w] >= 0.005 * last.total),
        key=lambda w: -last.by_place[w],
    )
    rest = sorted(places - set(shown))
    groups = [(where.removeprefix("repo:"), [where]) for where in shown]
    if rest:
        groups.append((f"the other {len(rest)}", rest))
    return groups


def profile_stats(profiler: Any) -> Stats:
    """pstats' table of a `cProfile.Profile` (its callers included)."""
    import pstats

    return pstats.Stats(profiler).stats  # type: ignore[attr-defined,no-any-return]
