"""The ASGI layer in front of the app (:class:`Gate`): the API key, the body size limit, each
request's metrics and JSON access log line, the 500 for an unexpected fault, and the fast path
of ``POST /v1/predict``.

The fast path hands the body straight to :meth:`Predictor.answer_json
<modelcycle.serving._routes.Predictor.answer_json>`, which validates it with the route's own
request model and serialises the route's own response model: what it skips is FastAPI's
routing, dependency solving and response classes (``python -m bench serving`` measures the
difference). Every error goes through :func:`modelcycle.serving._errors.error_response`.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import anyio

from modelcycle.serving._errors import ERROR_KEY, ApiError, error_response, internal_error
from modelcycle.serving._metrics import Metrics
from modelcycle.serving._routes import PREDICT_PATH, TEXTS_KEY, Predictor
from modelcycle.serving._settings import ServeSettings

__all__ = ["DRAIN_MIN_BYTES", "DRAIN_SECONDS", "Gate"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("modelcycle.access")

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Paths that answer without the API key: the probes of an orchestrator."""
ROUTES = frozenset(
    {PREDICT_PATH, "/v1/model", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}
)
"""Paths counted under their own name in the metrics (any other path is counted as "other")."""
DRAIN_MIN_BYTES = 16 << 20
DRAIN_SECONDS = 10.0
"""A body over the limit is still read and dropped, up to max(4 x max_body_bytes,
DRAIN_MIN_BYTES) bytes and DRAIN_SECONDS, before the 413: a client that sends its whole body
before it reads (Python's http.client, requests, httpx) then reads the 413, not a reset."""


@dataclass(frozen=True, eq=False)
class Gate:
    """API key, body size limit, metrics, access log, 500s and the predict fast path.

    Written as plain ASGI (not Starlette's ``BaseHTTPMiddleware``, which costs a task per
    request) so that the hot path stays short.
    """

    app: ASGIApp
    _: KW_ONLY
    settings: ServeSettings
    api_key: bytes | None
    metrics: Metrics
    predictor: Predictor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        answered = [0]

        async def send_and_see(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered[0] = message["status"]
            await send(message)

        try:
            await self._answer(scope, receive, send_and_see)
        except ApiError as error:
            await error_response(scope, error)(scope, receive, send_and_see)
        except Exception as exc:
            if answered[0]:  # too late for an answer: the server closes the connection
                raise
            await error_response(scope, internal_error(exc))(scope, receive, send_and_see)
        finally:
            self._record(scope, answered[0] or 500, time.perf_counter() - start)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse (an ApiError), answer the predict fast path, or hand on to FastAPI."""
        self._check_key(scope)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        body = await self._read_body(scope, receive)
        if scope["path"] == PREDICT_PATH and scope["method"] == "POST":
            payload = await self.predictor.answer_json(body, scope)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_key(self, scope: Scope) -> None:
        """401 without the right API key (every path but the probes)."""
        if self.api_key is None or scope["path"] in OPEN_PATHS:
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = token.strip()
            elif name == b"x-api-key":
                given = value.strip()
        challenge = {"WWW-Authenticate": "Bearer"}
        if given is None:
            raise ApiError(
                401,
                "unauthorized",
                "this server needs an API key: send 'Authorization: Bearer KEY' "
                "(or 'X-API-Key: KEY')",
                challenge,
            )
        if not hmac.compare_digest(given, self.api_key):  # constant time
            raise ApiError(
                401,
                "unauthorized",
                "the API key is not valid; send the key the server was started with",
                challenge,
            )

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, or a 413 over ``max_body_bytes`` (once the rest is dropped)."""
        limit = self.settings.max_body_bytes
        too_large = ApiError(
            413,
            "body_too_large",
            f"the request body is over the limit of {limit:,} bytes; send fewer or "
            "shorter texts per request",
            {"Connection": "close"},
        )
        drain = max(4 * limit, DRAIN_MIN_BYTES)
        declared, waits = None, False  # waits: the client sends its body after a 100 Continue
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise ApiError(400, "bad_request", "Content-Length is not a number") from None
            elif name == b"expect":
                waits = value.lower() == b"100-continue"
        if declared is not None and declared > limit:
            if not waits and declared <= drain:
                await _drain(receive, drain)
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                if more:
                    await _drain(receive, drain - size)
                raise too_large
            chunks.append(chunk)
            if not more:
                break
        return b"".join(chunks)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        path = scope["path"] if scope["path"] in ROUTES else "other"
        metrics = self.metrics
        metrics.requests.labels(path=path, method=scope["method"], status=status).inc()
        metrics.latency.labels(path=path).observe(seconds)
        code = scope.get(ERROR_KEY)
        if code is not None:
            metrics.errors.labels(code=code).inc()
        if self.settings.access_log and access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "client": f"{client[0]}:{client[1]}" if client else None,
            }
            if TEXTS_KEY in scope:
                fields["texts"] = scope[TEXTS_KEY]
            if code is not None:
                fields["error"] = code
            access_log.info("request", extra={"fields": fields})


async def _drain(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a refused body: at most ``budget`` bytes and DRAIN_SECONDS."""
    with anyio.move_on_after(DRAIN_SECONDS):
        while budget > 0:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            budget -= len(message.get("body", b""))


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then defers to the server's."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
