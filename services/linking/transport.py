"""HTTP plumbing shared by the routes: JSON in and out, body limits, the error middleware."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services.linking.errors import (
    BadRequest,
    DomainError,
    Internal,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    WrongState,
)

logger = logging.getLogger(__name__)

BodyT = TypeVar("BodyT", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_dumps = partial(json.dumps, ensure_ascii=False)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def error_response(error: DomainError) -> web.Response:
    return json_response(error.body(), status=error.status)


async def read_body(request: web.Request, model: type[BodyT], max_size: int) -> BodyT:
    """Parse the body as a JSON object into `model`; an empty body counts as `{}`."""
    if request.content_length is not None and request.content_length > max_size:
        raise PayloadTooLarge(f"The body is over {max_size} bytes.")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise PayloadTooLarge(f"The body is over {max_size} bytes.") from error
    if len(raw) > max_size:
        raise PayloadTooLarge(f"The body is over {max_size} bytes.")
    if raw.strip():
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as error:
            raise BadRequest("The body is not valid JSON.") from error
        except RecursionError as error:  # [[[[…]]]] deeper than the parser's stack
            raise BadRequest("The body is nested too deeply.") from error
    else:
        data = {}
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except RecursionError as error:
        raise BadRequest("The body is nested too deeply.") from error
    except ValidationError as error:
        fields = {
            ".".join(str(part) for part in issue["loc"]) or "body": issue["msg"]
            for issue in error.errors()
        }
        raise BadRequest("Some fields are missing or invalid.", fields=fields) from error


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every refusal into the API's JSON error; unexpected failures into `internal`."""
    try:
        return await handler(request)
    except DomainError as error:
        return error_response(error)
    except web.HTTPRequestEntityTooLarge:
        return error_response(PayloadTooLarge())
    except web.HTTPNotFound:
        return error_response(NotFound(f"No route {request.method} {request.path}."))
    except web.HTTPMethodNotAllowed:
        return error_response(MethodNotAllowed(f"{request.method} is not allowed here."))
    except web.HTTPException as error:
        if error.status >= 400:
            return json_response(
                {"error": {"code": "bad_request", "detail": error.reason}}, status=error.status
            )
        raise
    except (StaleDataError, IntegrityError) as error:
        # Two requests changed the same thing at once; the loser's transaction rolled back.
        return _concurrent_change(request, error)
    except DBAPIError as error:
        if _sqlstate(error) in _CONCURRENCY_SQLSTATES:
            return _concurrent_change(request, error)
        logger.exception("database error in %s %s", request.method, route_template(request))
        return error_response(Internal())
    except Exception:
        logger.exception("unexpected error in %s %s", request.method, route_template(request))
        return error_response(Internal())


# PostgreSQL's deadlock_detected and serialization_failure: the loser may simply retry.
_CONCURRENCY_SQLSTATES = frozenset({"40P01", "40001"})


def _sqlstate(error: DBAPIError) -> str | None:
    original = error.orig
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None


def _concurrent_change(request: web.Request, error: Exception) -> web.Response:
    logger.info(
        "concurrent change refused: %s %s (%s)",
        request.method,
        route_template(request),
        type(error).__name__,
    )
    return error_response(
        WrongState(None, "Changed by another request at the same time; reload and retry.")
    )


def route_template(request: web.BaseRequest) -> str:
    """The matched route's template for logs, e.g. `/v1/recoveries/{recovery_id}`.

    Ids in paths open a teacher's flow and never reach a log; an unmatched path neither.
    """
    match_info = getattr(request, "match_info", None)
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else "(no route)"
