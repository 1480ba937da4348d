"""From an HTTP status and body to data, or to the matching `LinkingError`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from services.linking_client.errors import (
    BackendUnavailable,
    BadRequest,
    LinkingError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
)
from services.linking_client.parsing import _MalformedAnswer

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# Statuses aiohttp (or a proxy) may answer with a non-JSON body before our handlers run.
_STATUS_FALLBACK: dict[int, type[LinkingError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


def _parse(parser: Callable[[Any], _T], data: Any) -> _T:
    try:
        return parser(data)
    except _MalformedAnswer as exc:
        logger.warning("linking backend answered an unexpected shape: %s", exc)
        raise BackendUnavailable.because(
            f"The linking service gave an unexpected answer ({exc})."
        ) from exc


def _decode(status: int, raw: bytes, *, expected_refusal: bool = False) -> Any:
    """Turn a status and body into data, or raise the matching `LinkingError`.

    Refusals are logged at INFO, or at DEBUG when the caller expects them (`expected_refusal`).
    """
    try:
        data: Any = json.loads(raw) if raw else None
        is_json = True
    except (UnicodeDecodeError, json.JSONDecodeError):
        data, is_json = None, False

    if status >= 500:
        raise BackendUnavailable.because(
            f"The linking service failed (HTTP {status}).",
            status=status,
            payload=_error_object(data) or {},
        )
    if 200 <= status < 300:
        if not is_json or data is None:
            raise BackendUnavailable.because(
                "The linking service gave an answer that is not JSON.", status=status
            )
        return data

    error = _error_object(data)
    if error is not None and isinstance(error.get("code"), str):
        exc = LinkingError.from_error_body(status, error)
        level = logging.DEBUG if expected_refusal else logging.INFO
        logger.log(level, "linking refused: %s (HTTP %d)", exc.code, status)
        raise exc
    fallback = _STATUS_FALLBACK.get(status)
    if fallback is not None:
        raise fallback(fallback.error_code or "", f"HTTP {status}", status)
    raise BackendUnavailable.because(
        f"The linking service gave an unexpected answer (HTTP {status}).", status=status
    )


def _error_object(data: Any) -> Mapping[str, Any] | None:
    if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
        return cast(Mapping[str, Any], data["error"])
    return None
