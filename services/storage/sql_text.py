"""Statements written out in SQL once, each parameter typed by the column it fills.

SQLAlchemy's SQLite and PostgreSQL upserts (`on_conflict_do_update`, `on_conflict_do_nothing`)
have no cache key, so a statement built with them is compiled afresh on every execution
(bench/README.md, stops 18 and 19). Where both databases spell a statement alike, it is written
out once with `typed_text` and then only executed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.types import TypeEngine


def typed_text(sql: str, **parameters: TypeEngine[Any]) -> TextClause:
    """`text(sql)` whose named parameters are bound with these types (the columns' own)."""
    return text(sql).bindparams(
        *(bindparam(name, type_=type_) for name, type_ in parameters.items())
    )
