"""The one error path: every error answer, whatever produced it (validation, routing, limits,
the API key, readiness, an internal fault), is an :class:`ApiError` turned into a response here.

The body is :class:`~modelcycle.serving._schema.ErrorResponse` (``{"error": {"code",
"message"}}``), a 503 carries ``Retry-After``, a 500 never says more than "see the server log",
and the error code is left in the ASGI scope for the metrics and the access log.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelcycle.serving._schema import ErrorDetail, ErrorResponse

__all__ = [
    "CODES",
    "ERROR_KEY",
    "ApiError",
    "add_error_handlers",
    "error_body",
    "error_response",
    "internal_error",
    "invalid",
    "responses",
]

log = logging.getLogger("modelcycle.serving")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "not_ready",
}
"""The code of an error answer by its status, where nothing more precise is known."""
ERROR_KEY = "modelcycle.error"
"""Where an answer's error code is left in the ASGI scope."""
RETRY_AFTER_S = 1
"""What a 503 (warming up, shutting down) tells its client to wait before it retries."""


class ApiError(Exception):
    """An error answer: HTTP ``status``, a stable ``code``, a message saying how to fix it, and
    any headers it needs (``WWW-Authenticate``, ``Allow``, ``Connection: close``)."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_body(code: str, message: str) -> bytes:
    """The JSON error body: an :class:`ErrorResponse`."""
    error = ErrorResponse(error=ErrorDetail(code=code, message=message))
    return error.model_dump_json().encode("utf-8")


def error_response(scope: MutableMapping[str, Any], error: ApiError) -> Response:
    """The answer to ``error``, its code recorded in ``scope``."""
    scope[ERROR_KEY] = error.code
    headers = dict(error.headers)
    if error.status == 503:
        headers.setdefault("Retry-After", str(RETRY_AFTER_S))
    return Response(
        error_body(error.code, error.message),
        status_code=error.status,
        media_type="application/json",
        headers=headers or None,
    )


def internal_error(exc: BaseException) -> ApiError:
    """A 500 for an unexpected fault: logged with its traceback, not shown to the client."""
    log.error("internal error", exc_info=exc)
    return ApiError(500, "internal_error", "internal error; see the server log")


def invalid(errors: Sequence[Any]) -> ApiError:
    """A 400 for a body that is not JSON, a 422 naming the first problem otherwise."""
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return ApiError(400, "invalid_json", f"the body is not valid JSON: {first.get('msg')}")
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    others = len(errors) - 1
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return ApiError(
        422,
        "invalid_request",
        f'{where}: {first.get("msg", "invalid")}{more}; expected {{"texts": ["a text", ...]}}',
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of an operation's error answers."""
    return {status: {"model": ErrorResponse, "description": CODES[status]} for status in statuses}


def add_error_handlers(app: FastAPI) -> None:
    """Answer FastAPI's and Starlette's errors through :func:`error_response`."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request.scope, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"no such path {request.url.path!r}; see /openapi.json"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        else:
            message = str(exc.detail)
        code = CODES.get(exc.status_code, "error")
        error = ApiError(exc.status_code, code, message, exc.headers)
        return error_response(request.scope, error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request.scope, invalid(exc.errors()))
