"""Readers for the backend's JSON: each checks one field's type and raises `_MalformedAnswer`.

The result types in `models` are built from these; `decoding` turns a `_MalformedAnswer` into
`BackendUnavailable`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, TypeVar

_E = TypeVar("_E", bound=StrEnum)


class _MalformedAnswer(ValueError):
    """The server's JSON does not have the documented shape."""


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _MalformedAnswer(f"{what}: expected an object")
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _MalformedAnswer(f"{key}: expected a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _MalformedAnswer(f"{key}: expected a string or null")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    # bool is an int subclass; a `true` where a count belongs is a broken answer.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _MalformedAnswer(f"{key}: expected an integer")
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise _MalformedAnswer(f"{key}: expected a boolean")
    return value


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    return None if data.get(key) is None else _bool(data, key)


def _choice(data: Mapping[str, Any], key: str, allowed: frozenset[str]) -> Any:
    value = _str(data, key)
    if value not in allowed:
        raise _MalformedAnswer(f"{key}: unexpected value {value!r}")
    return value


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 time from the API into an aware UTC datetime (naive means UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _MalformedAnswer(f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _datetime(data: Mapping[str, Any], key: str) -> datetime:
    return parse_datetime(_str(data, key))


def _opt_datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    text = _opt_str(data, key)
    return None if text is None else parse_datetime(text)


def _date(data: Mapping[str, Any], key: str) -> date:
    text = _str(data, key)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _MalformedAnswer(f"{key}: not a date: {text!r}") from exc


def _enum(data: Mapping[str, Any], key: str, enum: type[_E]) -> _E:
    value = _str(data, key)
    try:
        return enum(value)
    except ValueError as exc:
        raise _MalformedAnswer(f"{key}: unexpected value {value!r}") from exc


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise _MalformedAnswer(f"{key}: expected a list")
    return value


def _as_list(raw: Any) -> Sequence[Any]:
    if not isinstance(raw, list):
        raise _MalformedAnswer("expected a list")
    return raw
