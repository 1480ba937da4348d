"""Which database failures pass by themselves (retry later) and which never will (give up).

A locked SQLite file, a dropped PostgreSQL connection, a failover, a serialization conflict: the
same write succeeds a moment later, so it is kept and retried. A constraint violation, a missing
table or a bug in the operation fails the same way forever, so retrying it would only stall the
writes queued behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLite reports schema and syntax problems as OperationalError too: those never pass.
_SQLITE_PERMANENT = ("no such table", "no such column", "syntax error", "has no column")
# PostgreSQL SQLSTATE classes that do pass: connection (08), serialization failure and
# deadlock (40), operator intervention such as a restart (57), system errors (53 resources).
_PG_TRANSIENT_CLASSES = ("08", "40", "53", "57")


def is_transient(error: BaseException) -> bool:
    """True when the same database operation may well succeed if simply tried again later."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        state = _sqlstate(error)
        if state is not None:
            return state[:2] in _PG_TRANSIENT_CLASSES
        if isinstance(error, OperationalError):
            message = str(error.orig).lower()
            return not any(marker in message for marker in _SQLITE_PERMANENT)
        return isinstance(error, InterfaceError)
    return isinstance(error, OSError)  # connection refused or reset, timeouts


def _sqlstate(error: DBAPIError) -> str | None:
    original = error.orig
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(original, attribute, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    cause = getattr(original, "__cause__", None)  # asyncpg's error under SQLAlchemy's adapter
    value = getattr(cause, "sqlstate", None)
    return value if isinstance(value, str) and len(value) == 5 else None


@dataclass(frozen=True)
class Backoff:
    """Exponential delays between retries: `initial`, ×`factor` each time, never above `maximum`."""

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 5.0

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (1 for the first retry)."""
        return min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
