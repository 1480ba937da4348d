"""Portable SQL for the reports: exact time differences, medians and percentiles.

The same statements run on SQLite and PostgreSQL. SQLite has neither an interval type nor
`percentile_cont`, so
- a moment becomes whole microseconds since the epoch (`epoch_us`), and differences are exact
  integers on both databases (the same figures Python's `timedelta` arithmetic gives);
- a median or a percentile is read from ranked rows: `ROW_NUMBER()` and `COUNT(*)` over the
  group pick the one or two rows the statistic needs, and only those leave the database.

Definitions: the median is the middle value, or the mean of the two middle ones (as
`statistics.median`); a percentile p is the nearest rank, the smallest value that at least p %
of the values do not exceed (`rank = ceil(p·n/100)`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy import BigInteger, ColumnElement, FromClause, Select, String, func, or_, select
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

MICROSECONDS = 1_000_000
UNIXEPOCH_SINCE = (3, 38, 0)  # the SQLite version that has unixepoch()


class epoch_us(FunctionElement[int]):  # lower case: reads like the SQL function it renders
    """Microseconds since the epoch of a UTC `DateTime` column, as an exact integer."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_us"


@compiles(epoch_us)
def _epoch_us_elsewhere(element: epoch_us, compiler: Any, **kw: Any) -> str:
    raise CompileError(f"epoch_us is not defined for {compiler.dialect.name}")


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: Any, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    # date_part's double is ~0.24 µs apart around today's epoch seconds: rounded, it is exact
    # to the microsecond (until the 23rd century), and much cheaper than EXTRACT's NUMERIC.
    return f"CAST(ROUND(date_part('epoch', {moment}) * 1000000) AS BIGINT)"


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: Any, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    # SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC here): whole seconds from the first
    # 19 characters (strftime('%s') given the fraction rounds .9995 and up to the next
    # second), the microseconds from characters 21-26 ('' → 0 when a value has none).
    # unixepoch() (SQLite 3.38+) gives the same seconds without formatting and parsing them
    # as text: about half the cost per row.
    version = getattr(getattr(compiler.dialect, "dbapi", None), "sqlite_version_info", ())
    seconds = (
        f"unixepoch(substr({moment}, 1, 19))"
        if tuple(version) >= UNIXEPOCH_SINCE
        else f"CAST(strftime('%s', substr({moment}, 1, 19)) AS INTEGER)"
    )
    return f"({seconds} * 1000000 + CAST(substr({moment}, 21, 6) AS INTEGER))"


LATEST_KEY_LENGTH = 41


class latest_key(FunctionElement[str]):  # lower case: reads like the SQL function it renders
    """A fixed-width string of (moment, id) that sorts like the pair: `MAX(latest_key(at, id)
    || x)` is the `x` of the latest row, ties broken by id, in one aggregate."""

    type = String()
    inherit_cache = True
    name = "latest_key"


@compiles(latest_key)
def _latest_key_elsewhere(element: latest_key, compiler: Any, **kw: Any) -> str:
    raise CompileError(f"latest_key is not defined for {compiler.dialect.name}")


@compiles(latest_key, "postgresql")
def _latest_key_postgresql(element: latest_key, compiler: Any, **kw: Any) -> str:
    moment, row_id = element.clauses.clauses
    epoch = compiler.process(epoch_us(moment), **kw)
    row = compiler.process(row_id, **kw)
    return f"(lpad(CAST({epoch} AS TEXT), 26, '0') || lpad(CAST({row} AS TEXT), 15, '0'))"


@compiles(latest_key, "sqlite")
def _latest_key_sqlite(element: latest_key, compiler: Any, **kw: Any) -> str:
    moment, row_id = (compiler.process(c, **kw) for c in element.clauses)
    # The stored text 'YYYY-MM-DD HH:MM:SS.ffffff' is 26 characters and sorts like time.
    return f"printf('%s%015d', {moment}, {row_id})"


def nearest_rank(percentile: int, count: ColumnElement[int]) -> ColumnElement[int]:
    """`ceil(percentile · count / 100)` in integer arithmetic."""
    return (percentile * count + 99) // 100


class Window(TypedDict, total=False):
    """Keyword arguments of `FunctionElement.over`, shared by several window functions."""

    partition_by: Any
    order_by: Any
    rows: tuple[int | None, int | None]


def order_statistic_rows(
    source: FromClause,
    value: ColumnElement[int],
    keys: Sequence[ColumnElement[Any]] = (),
    *,
    percentiles: Sequence[int] = (),
) -> Select:
    """Per group of `keys`, the rows of `source` a median and `percentiles` need.

    Columns: the keys (by their names), `value`, `rank` (1-based, ascending) and `count`.
    Feed the rows to `OrderStatistics`.
    """
    window: Window = {"partition_by": list(keys) or None, "order_by": value}
    whole_group: Window = {**window, "rows": (None, None)}
    ranked = (
        select(
            *keys,
            value.label("value"),
            func.row_number().over(**window).label("rank"),
            # The same ordering with the whole group as frame: one sort serves both.
            func.count().over(**whole_group).label("count"),
        )
        .select_from(source)
        .subquery("ranked")
    )
    rank, count = ranked.c["rank"], ranked.c["count"]
    wanted = [rank == (count + 1) // 2, rank == (count + 2) // 2]
    wanted += [rank == nearest_rank(p, count) for p in percentiles]
    return select(ranked).where(or_(*wanted))


@dataclass
class _Group:
    count: int
    by_rank: dict[int, int] = field(default_factory=dict)


class OrderStatistics:
    """Medians and percentiles (in seconds) from `order_statistic_rows` over microseconds."""

    def __init__(self, rows: Iterable[Any], key_columns: int) -> None:
        self._groups: dict[tuple[Any, ...], _Group] = {}
        for row in rows:
            key = tuple(row[:key_columns])
            value, rank, count = row[key_columns : key_columns + 3]
            group = self._groups.setdefault(key, _Group(int(count)))
            group.by_rank[int(rank)] = int(value)

    def keys(self) -> list[tuple[Any, ...]]:
        return list(self._groups)

    def count(self, *key: Any) -> int:
        group = self._groups.get(key)
        return group.count if group else 0

    def median(self, *key: Any) -> float | None:
        """Seconds; the mean of the two middle values when the count is even."""
        group = self._groups.get(key)
        if group is None:
            return None
        low = group.by_rank[(group.count + 1) // 2] / MICROSECONDS
        high = group.by_rank[(group.count + 2) // 2] / MICROSECONDS
        return low if group.count % 2 else (low + high) / 2

    def percentile(self, percentile: int, *key: Any) -> float | None:
        """Seconds: the nearest-rank percentile."""
        group = self._groups.get(key)
        if group is None:
            return None
        return group.by_rank[(percentile * group.count + 99) // 100] / MICROSECONDS
