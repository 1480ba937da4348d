"""bench/profile_owners.py: whose file a function is in, and where a C function's time goes.

A tiny pstats-like table stands in for a profile: the arithmetic is checked by hand, in seconds.
"""

from __future__ import annotations

import pytest

from bench.profile_owners import (
    BROKEN_DOWN,
    C_CALLS,
    OTHER_PACKAGES,
    OTHER_STDLIB,
    PYTHON_CALLS,
    UNATTRIBUTED,
    by_owner,
    owner,
    place,
    report,
)

ROOT = "/repo"
STDLIB = "/py/lib/python3.11"
SITE = "/repo/.venv/lib/python3.11/site-packages"  # the virtualenv lives inside the repository

FEED = (f"{SITE}/aiogram/dispatcher/dispatcher.py", 10, "feed_update")
GETTER = ("/repo/bot/dialogs/steps.py", 5, "step_getter")
MODEL = (f"{SITE}/pydantic/main.py", 1, "__init__")
VALIDATE = (
    "~",
    0,
    "<method 'validate_python' of 'pydantic_core._pydantic_core.SchemaValidator' objects>",
)
MAP = ("~", 0, "<built-in method builtins.map>")
LEN = ("~", 0, "<built-in method builtins.len>")
SELECT = (f"{STDLIB}/selectors.py", 451, "select")
POLL = ("~", 0, "<method 'poll' of 'select.epoll' objects>")
DATACLASS_INIT = ("<string>", 2, "__init__")
TEACHER = ("/repo/bench/scenario_bench.py", 1, "teacher_run")
PARTIAL = (f"{STDLIB}/functools.py", 1, "wrapper")
ORPHAN = ("~", 0, "<built-in method time.perf_counter>")

# key: (primitive calls, calls, self s, cumulative s, {caller: (calls, primitive, self s, cum s)})
STATS = {
    FEED: (5, 5, 0.010, 0.05, {}),
    GETTER: (2, 2, 0.004, 0.02, {FEED: (2, 2, 0.004, 0.02)}),
    MODEL: (3, 3, 0.001, 0.005, {FEED: (3, 3, 0.001, 0.005)}),
    # 4 ms from pydantic's __init__, 2 ms from our getter
    VALIDATE: (3, 3, 0.006, 0.006, {MODEL: (2, 2, 0.004, 0.004), GETTER: (1, 1, 0.002, 0.002)}),
    # map: its own 1 ms half each; len, called only by map, goes up by map's cumulative 3 : 1
    MAP: (2, 2, 0.001, 0.004, {FEED: (1, 1, 0.0005, 0.003), GETTER: (1, 1, 0.0005, 0.001)}),
    LEN: (2, 2, 0.002, 0.002, {MAP: (2, 2, 0.002, 0.002)}),
    SELECT: (1, 1, 0.001, 0.501, {}),
    POLL: (1, 1, 0.5, 0.5, {SELECT: (1, 1, 0.5, 0.5)}),
    DATACLASS_INIT: (4, 4, 0.003, 0.003, {GETTER: (4, 4, 0.003, 0.003)}),
    TEACHER: (1, 1, 0.002, 0.06, {}),
    PARTIAL: (1, 1, 0.0007, 0.0007, {}),
    ORPHAN: (1, 1, 0.001, 0.001, {}),
}


@pytest.mark.parametrize(
    ("filename", "where", "expected_owner"),
    [
        (f"{SITE}/aiogram/dispatcher/router.py", "site:aiogram", "aiogram (incl. magic_filter)"),
        (f"{SITE}/magic_filter/magic.py", "site:magic_filter", "aiogram (incl. magic_filter)"),
        (f"{SITE}/aiogram_dialog/window.py", "site:aiogram_dialog", "aiogram-dialog"),
        (f"{SITE}/pydantic_core/core_schema.py", "site:pydantic_core", "pydantic"),
        (f"{SITE}/aiosqlite/core.py", "site:aiosqlite", "SQLAlchemy + aiosqlite / asyncpg"),
        (f"{SITE}/yarl/_url.py", "site:yarl", "aiohttp + multidict + yarl"),
        (f"{SITE}/six.py", "site:six", OTHER_PACKAGES),
        (f"{STDLIB}/asyncio/events.py", "stdlib:asyncio", "asyncio"),
        (f"{STDLIB}/functools.py", "stdlib:functools", OTHER_STDLIB),
        ("<frozen importlib._bootstrap>", "stdlib:importlib", OTHER_STDLIB),
        ("/repo/bench/teacher_walks.py", "repo:bench/teacher_walks", "harness (bench/, tests/)"),
        ("/repo/tests/support/fake_telegram.py", "repo:tests/support", "harness (bench/, tests/)"),
        ("/repo/bot/dialogs/steps.py", "repo:bot/dialogs", BROKEN_DOWN),
        ("/repo/services/storage/fsm.py", "repo:services/storage", BROKEN_DOWN),
        ("/repo/bot/app.py", "repo:bot/app", BROKEN_DOWN),
    ],
)
def test_a_file_belongs_to_the_owner_of_its_package(
    filename: str, where: str, expected_owner: str
) -> None:
    assert place(filename, ROOT, STDLIB) == where
    assert owner(where) == expected_owner


def test_c_time_goes_to_the_python_callers_and_the_idle_poll_is_left_out() -> None:
    result = by_owner(STATS, ROOT, STDLIB)

    expected = {
        # own 10 ms + map's own half 0.5 + len by map's cumulative 3/4 of 2 ms
        "aiogram (incl. magic_filter)": 0.010 + 0.0005 + 0.0015,
        # own 4 + validate 2 + map 0.5 + len 0.5 + the dataclass __init__ it called 3
        BROKEN_DOWN: 0.004 + 0.002 + 0.0005 + 0.0005 + 0.003,
        "pydantic": 0.001 + 0.004,
        "asyncio": 0.001,  # selectors' own time; the poll under it is waiting
        "harness (bench/, tests/)": 0.002,
        OTHER_STDLIB: 0.0007,
        UNATTRIBUTED: 0.001,
    }
    assert dict(result.seconds) == pytest.approx(expected)
    assert result.c_seconds[BROKEN_DOWN] == pytest.approx(0.003)  # the __init__ is Python
    assert result.left_out == {"the event loop's idle poll": 0.5}
    assert result.total == pytest.approx(sum(expected.values()))
    assert result.by_place["repo:bot/dialogs"] == pytest.approx(expected[BROKEN_DOWN])
    assert result.calls[BROKEN_DOWN] == 2 + 4  # its own and the generated code's it called
    assert result.c_calls[BROKEN_DOWN] == pytest.approx(1 + 1 + 0.5)  # validate, map, len
    assert result.counts[PYTHON_CALLS] == 5 + 2 + 3 + 1 + 4 + 1 + 1
    assert result.counts[C_CALLS] == 3 + 2 + 2 + 1 + 1
    assert result.counts["pydantic validations (validate_python)"] == 3
    assert result.counts["pydantic models built (BaseModel.__init__)"] == 3


def test_c_functions_calling_only_each_other_are_unattributed() -> None:
    first, second = ("~", 0, "<built-in a>"), ("~", 0, "<built-in b>")
    stats = {
        first: (1, 1, 0.002, 0.003, {second: (1, 1, 0.002, 0.003)}),
        second: (1, 1, 0.001, 0.003, {first: (1, 1, 0.001, 0.001)}),
    }
    assert dict(by_owner(stats, ROOT, STDLIB).seconds) == pytest.approx({UNATTRIBUTED: 0.003})


def test_the_report_puts_the_runs_side_by_side_per_update() -> None:
    profile = by_owner(STATS, ROOT, STDLIB)
    text = report({"echo": (profile, 2), "bot": (profile, 4)}, {"echo": 10.0, "bot": 5.0})
    lines = text.splitlines()
    total_ms, calls = profile.total * 1000, 17 + 8  # Python calls, C calls (the poll left out)
    ours_calls = 2 + 4 + 1 + 1 + 0.5  # own, the __init__, validate, map, len (3 : 1 by map)
    share = f"{0.010 / profile.total * 100:.1f}"
    cost = {
        run: (total_ms - cpu * updates) / calls
        for run, cpu, updates in [("echo", 10, 2), ("bot", 5, 4)]
    }
    # ms per update, %, of it C, calls per update, ms less cProfile's cost per call: 2 updates, 4
    ours = next(line for line in lines if line.startswith(BROKEN_DOWN))
    echo_estimate = f"{5.0 - cost['echo'] * ours_calls / 2:.2f}"
    bot_estimate = f"{2.5 - cost['bot'] * ours_calls / 4:.2f}"
    assert ours.split()[-10:] == [
        "5.000", share, "1.500", f"{ours_calls / 2:.0f}", echo_estimate,
        "2.500", share, "0.750", f"{ours_calls / 4:.0f}", bot_estimate,
    ]  # fmt: skip
    dialogs = next(line for line in lines if line.startswith("  bot/dialogs"))
    assert dialogs.split()[1:4] == ["5.000", share, f"{ours_calls / 2:.0f}"]  # no C column
    assert any(line.split()[-2:] == ["10.000", "5.000"] for line in lines)
    inflation = next(line for line in lines if line.startswith("profiled ÷"))
    assert inflation.split()[-2:] == [f"{total_ms / 2 / 10:.1f}×", f"{total_ms / 4 / 5:.1f}×"]
    per_call = next(line for line in lines if line.startswith("cProfile cost per call"))
    assert per_call.split()[-2:] == [f"{cost['echo'] * 1000:.2f}", f"{cost['bot'] * 1000:.2f}"]
