"""Error responses: field-level 422s, and one JSON shape ``{"detail": ...}`` for everything else.

Bad input never reaches the catch-all: only a real fault answers 500, and it is logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = structlog.get_logger(__name__)

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})
_PREFIXES = ("Value error, ", "Assertion failed, ")
_WHOLE_BODY = {
    "missing": "a JSON body is required",
    "model_attributes_type": "the body must be a JSON object (Content-Type: application/json)",
    "dict_type": "the body must be a JSON object (Content-Type: application/json)",
}


class ApiError(HTTPException):
    """An HTTP error with a sentence a person can act on."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        retry_after: int | None = None,
        sentences: dict[str, str] | None = None,
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.sentences = sentences or {}  # the same sentence in other languages (the core's)

    def sentence(self, lang: str) -> str:
        """The sentence in ``lang`` where the case gave one, else the API's (English)."""
        return self.sentences.get(lang, str(self.detail))


def field_error(field: str, message: str, location: str = "body") -> RequestValidationError:
    """A 422 for one field, raised from a route after pydantic has passed the body."""
    loc = (location, *field.split("."))
    return RequestValidationError([{"loc": loc, "msg": message, "type": "value_error"}])


def field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic/FastAPI errors as ``{"loc", "field", "msg", "type"}``, nothing else.

    ``input`` and ``ctx`` are dropped: they echo what was sent (possibly huge or personal).
    Errors about the body as a whole say what the body must be.
    """
    out = []
    for error in errors:
        loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
        kind = str(error.get("type", ""))
        message = str(error.get("msg", "invalid value"))
        for prefix in _PREFIXES:
            message = message.removeprefix(prefix)
        if kind == "json_invalid":
            position = loc[1] if len(loc) > 1 else "?"
            reason = (error.get("ctx") or {}).get("error", "")
            message = f"the body is not valid JSON ({reason}) near character {position}"
            loc = ["body"]
        elif loc == ["body"] and kind in _WHOLE_BODY:
            message = _WHOLE_BODY[kind]
        path = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        field = ".".join(str(p) for p in path) or (str(loc[0]) if loc else "body")
        out.append({"loc": loc, "field": field, "msg": message, "type": kind})
    return out


# The update met a workflow task that ended without taking it (the worker was busy with the
# case's local activities); Temporal says so as an RPC error or as the update's failure.
_NOT_TAKEN = ("update is not supported by the worker", "wasn't processed by worker")


def case_busy() -> ApiError:
    """The answer to an update no workflow task took: retry shortly, nothing was applied."""
    return ApiError(503, "the case is busy; retry shortly", retry_after=2)


def not_taken_by_worker(err: BaseException) -> bool:
    """Whether Temporal rejected an update because no workflow task took it (nothing applied)."""
    messages = [str(getattr(e, "message", "") or e).lower() for e in (err, err.__cause__) if e]
    return any(marker in m for m in messages for marker in _NOT_TAKEN)


def temporal_error(err: RPCError) -> ApiError:
    """An RPC failure as the HTTP answer a client can act on."""
    status = err.status
    if status == RPCStatusCode.RESOURCE_EXHAUSTED:
        return ApiError(
            429, "the case is busy with other actions; retry in a moment", retry_after=1
        )
    if status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
    ):
        return ApiError(503, "Temporal did not answer in time; retry shortly", retry_after=5)
    if status == RPCStatusCode.UNKNOWN and "transport" in err.message.lower():
        # The SDK's word for "could not reach the server" (connection refused or reset).
        return ApiError(503, "Temporal could not be reached; retry shortly", retry_after=5)
    if status == RPCStatusCode.FAILED_PRECONDITION and "workflow task" in err.message.lower():
        # The case's last workflow task failed or timed out (e.g. its worker died); Temporal
        # retries it, and the action can be retried once it has.
        return ApiError(503, "the case is recovering; retry shortly", retry_after=2)
    if status == RPCStatusCode.NOT_FOUND:
        return ApiError(404, "no such case")
    if not_taken_by_worker(err):
        return case_busy()
    log.warning("temporal rpc error", status=status.name, message=err.message)
    return ApiError(502, f"Temporal refused the request: {err.message}")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise exc
    return JSONResponse({"detail": field_errors(exc.errors())}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _rpc_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RPCError):
        raise exc
    return await _http_error(request, temporal_error(exc))


_SQLITE_BUSY = ("database is locked", "database table is locked")
# PostgreSQL: connection exceptions, serialization failure, deadlock, too many connections,
# shutting down: each passes, and a retry can succeed.
_PG_TRANSIENT = ("08", "40001", "40P01", "53300", "57P01", "57P02", "57P03")


def _transient(exc: DBAPIError) -> bool:
    """Is this a database fault a retry can get past (locked, busy, connection lost)?"""
    code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    sqlite_busy = isinstance(exc, OperationalError) and any(
        message in str(exc.orig) for message in _SQLITE_BUSY
    )
    return exc.connection_invalidated or code.startswith(_PG_TRANSIENT) or sqlite_busy


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A locked, busy or unreachable database is a 503 with Retry-After, never a 500 (chaos
    seed 15: SQLite "database is locked" while a note was sealed under load). The engine hides
    the statement's parameters (``hide_parameters``); this line names only the error's type."""
    if not isinstance(exc, DBAPIError) or not _transient(exc):
        return await _unexpected(request, exc)
    log.warning(
        "database busy",
        method=request.method,
        path=request.url.path,
        error=type(exc.orig).__name__,
    )
    busy = ApiError(503, "the application database is busy; retry shortly", retry_after=2)
    return await _http_error(request, busy)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error",
        method=request.method,
        path=request.url.path,
        error=repr(exc),
        exc_info=exc,
    )
    return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RPCError, _rpc_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
