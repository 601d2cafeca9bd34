"""The HTTP API (FastAPI): predict, model, health, readiness, metrics and OpenAPI.

::

    POST /v1/predict   {"texts": ["...", ...]} -> {"predictions": [{"label", "scores"}], "model"}
    GET  /v1/model     the model's identity, labels, post-processing, limits and batching
    GET  /healthz      alive (always 200 while the process answers; HEAD too)
    GET  /readyz       200 once the model is loaded and warmed up, 503 before (HEAD too)
    GET  /metrics      Prometheus text format
    GET  /openapi.json the OpenAPI schema (and /docs: Swagger UI, its files served here)

Every error, whatever produced it (validation, routing, limits, API key, an internal fault), is
``{"error": {"code": "...", "message": "..."}}`` with a 4xx status for a bad request and never a
500 for bad input. A pure ASGI layer in front of the app (:class:`Gate`) checks the API key and
the body size before anything is parsed, records each request's metrics and JSON access log
line, and answers ``POST /v1/predict`` itself: the hot path skips FastAPI's routing, dependency
solving and response classes (about 0.2 ms of a 0.5 ms request), while FastAPI serves the other
endpoints and the OpenAPI schema, in which the predict operation is declared from the same
pydantic models that validate its body.
"""

# no ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations, and
# the request model is made per app, inside create_app
import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelcycle._version import __version__
from modelcycle.serving._batcher import MicroBatcher, ShuttingDown
from modelcycle.serving._metrics import CONTENT_TYPE, Metrics
from modelcycle.serving._model import ServedModel
from modelcycle.serving._settings import ServeSettings

__all__ = ["create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("modelcycle.access")
log = logging.getLogger("modelcycle.serving")

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
"""Paths that answer without the API key: the probes of an orchestrator."""
ROUTES = frozenset(
    {"/v1/predict", "/v1/model", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"}
)
"""Paths counted under their own name in the metrics (any other path is counted as "other")."""
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
_ERROR_KEY = "modelcycle.error"  # the error code of an answer, left in the ASGI scope
_TEXTS_KEY = "modelcycle.texts"  # how many texts a request held


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable error code.")
    message: str = Field(description="What was wrong and how to fix it.")


class ErrorResponse(BaseModel):
    """The one shape of every error answer."""

    error: ErrorDetail


class Prediction(BaseModel):
    label: str = Field(description="The model's answer (after its stored threshold, if any).")
    scores: dict[str, float] = Field(
        description="Probability of each label (after its stored calibration, if any)."
    )


class ModelIdentity(BaseModel):
    name: str
    version: str = Field(description="First 12 hex digits of the SHA-256 of the manifest.")
    precision: str


class PredictResponse(BaseModel):
    predictions: list[Prediction] = Field(description="One per text, in the order sent.")
    model: ModelIdentity


class ApiError(Exception):
    """An error answer: HTTP ``status``, a stable ``code`` and a message saying how to fix it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str) -> bytes:
    """The JSON error body."""
    return json.dumps({"error": {"code": code, "message": message}}).encode("utf-8")


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse, "description": CODES[status]} for status in statuses}


def create_app(model_dir: str | Path, *, settings: ServeSettings | None = None) -> FastAPI:
    """The ASGI app serving the ONNX model directory ``model_dir`` (FastAPI).

    The directory is verified (every file's SHA-256) and loaded here, so that a bad model
    fails before a port is opened; warm-up runs when the app starts (its lifespan), and
    ``/readyz`` answers 200 only after it. Run it with ``modelcycle serve`` or any ASGI server::

        app = create_app("onnx_model/", settings=ServeSettings(max_batch=16))
        uvicorn.run(app, host="127.0.0.1", port=8000)
    """
    settings = settings or ServeSettings()
    api_key = settings.api_key()
    model = ServedModel.load(model_dir, threads=settings.threads, name=settings.name)
    description = model.describe()
    metrics = Metrics(description)
    batcher = MicroBatcher(
        model.predict,
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000,
        on_batch=metrics.observe_batch,
    )
    status: dict[str, Any] = {"ready": False, "warmup_seconds": None}
    model_json = model.info_json()

    async def warm_up() -> None:
        loop = asyncio.get_running_loop()
        seconds = await loop.run_in_executor(None, model.warm_up)
        status.update(ready=True, warmup_seconds=round(seconds, 3))
        metrics.ready.set(1)
        log.info("ready", extra={"fields": {"model": model.info, "warmup_seconds": seconds}})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warming = asyncio.create_task(warm_up())
        try:
            yield
        finally:
            status["ready"] = False
            metrics.ready.set(0)
            with contextlib.suppress(asyncio.CancelledError):
                await warming
            await batcher.close()

    app = FastAPIOffline(  # /docs with Swagger UI's own files, served here: it works offline
        title="modelcycle",
        version=__version__,
        description=f"Text classification with the ONNX model {model.info['name']!r}.",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.model = model
    app.state.settings = settings
    app.state.status = status
    app.state.batcher = batcher

    limits = (
        f"At most {settings.max_texts} texts per request, {settings.max_text_chars:,} "
        f"characters per text and {settings.max_body_bytes:,} bytes per body (413 beyond)."
    )

    class PredictRequest(BaseModel):
        """The texts to classify."""

        model_config = ConfigDict(extra="forbid")
        texts: Annotated[
            list[Annotated[str, Field(json_schema_extra={"maxLength": settings.max_text_chars})]],
            Field(
                min_length=1,
                description="The texts to classify. " + limits,
                json_schema_extra={"maxItems": settings.max_texts},
            ),
        ]

    async def predict(body: bytes, scope: Scope) -> bytes:
        """The answer to ``POST /v1/predict`` with ``body``, or an ApiError."""
        # the body is parsed and validated in one pass by pydantic-core, whatever the
        # Content-Type says (curl -d sends a form type), and every failure is a 4xx
        try:
            texts = PredictRequest.model_validate_json(body).texts
        except ValidationError as exc:
            raise _invalid(exc.errors()) from None
        scope[_TEXTS_KEY] = len(texts)
        if len(texts) > settings.max_texts:
            raise ApiError(
                413,
                "too_many_texts",
                f"{len(texts)} texts in one request; the limit is {settings.max_texts}: "
                "split them over several requests",
            )
        longest = max(map(len, texts))
        if longest > settings.max_text_chars:
            index = next(i for i, text in enumerate(texts) if len(text) == longest)
            raise ApiError(
                413,
                "text_too_long",
                f"texts[{index}] has {longest:,} characters; the limit is "
                f"{settings.max_text_chars:,}: shorten it",
            )
        if not status["ready"]:
            raise ApiError(
                503, "not_ready", "the model is warming up or shutting down; retry in a moment"
            )
        try:
            records = await batcher.submit(texts)
        except ShuttingDown:
            raise ApiError(503, "shutting_down", "the server is stopping; retry") from None
        body_json = '{"predictions":' + json.dumps(records) + ',"model":' + model_json + "}"
        return body_json.encode("utf-8")

    @app.get("/v1/model", summary="The model being served", responses=_error_responses(401))
    async def model_info() -> dict[str, Any]:
        return {
            **description,
            "ready": status["ready"],
            "warmup_seconds": status["warmup_seconds"],
            "limits": {
                "max_body_bytes": settings.max_body_bytes,
                "max_texts": settings.max_texts,
                "max_text_chars": settings.max_text_chars,
            },
            "batching": {"max_batch": settings.max_batch, "max_wait_ms": settings.max_wait_ms},
            "threads": settings.threads,
        }

    @app.get("/healthz", summary="Alive: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="Ready: the model is loaded and warmed up",
        responses=_error_responses(503),
    )
    async def readyz() -> dict[str, Any]:
        if not status["ready"]:
            raise ApiError(503, "not_ready", "the model is warming up")
        return {"status": "ready", "warmup_seconds": status["warmup_seconds"]}

    # probes that send HEAD get the GET answer's status and headers (the server drops the body)
    app.head("/healthz", include_in_schema=False)(healthz)
    app.head("/readyz", include_in_schema=False)(readyz)

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, **_error_responses(401)},
    )
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    app.openapi = _openapi_with_predict(app, PredictRequest, limits)  # type: ignore[method-assign]
    _add_error_handlers(app)
    app.add_middleware(
        Gate,
        settings=settings,
        api_key=api_key,
        metrics=metrics,
        predict=predict,
    )
    return app


def _openapi_with_predict(
    app: FastAPI, request_model: type[BaseModel], limits: str
) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` with ``POST /v1/predict`` declared (the Gate answers it, not a route)."""
    from fastapi.openapi.utils import get_openapi

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (request_model, PredictResponse, ErrorResponse):
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(definition.pop("$defs", {}))
            components[model.__name__] = definition
        errors = {
            str(code): {
                "description": CODES[code],
                "content": {"application/json": ref(ErrorResponse)},
            }
            for code in (400, 401, 405, 413, 422, 503)
        }
        operation = {
            "summary": "Classify one or more texts",
            "description": limits,
            "operationId": "predict",
            "requestBody": {"required": True, "content": {"application/json": ref(request_model)}},
            "responses": {
                "200": {
                    "description": "One prediction per text, in the order sent.",
                    "content": {"application/json": ref(PredictResponse)},
                },
                **errors,
            },
        }
        schema["paths"] = {"/v1/predict": {"post": operation}, **schema["paths"]}
        app.openapi_schema = schema
        return schema

    return openapi


def _invalid(errors: Sequence[Any]) -> ApiError:
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


def _add_error_handlers(app: FastAPI) -> None:
    def answer(request: Request, status: int, code: str, message: str, **headers: str) -> Response:
        request.scope[_ERROR_KEY] = code
        return Response(
            error_body(code, message),
            status_code=status,
            media_type="application/json",
            headers=headers or None,
        )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        headers = {"Retry-After": "1"} if exc.status == 503 else {}
        return answer(request, exc.status, exc.code, exc.message, **headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = CODES.get(exc.status_code, "error")
        if exc.status_code == 404:
            message = f"no such path {request.url.path!r}; see /openapi.json"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return answer(request, exc.status_code, code, message, **(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        error = _invalid(exc.errors())
        return answer(request, error.status, error.code, error.message)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("internal error", exc_info=exc)
        request.scope[_ERROR_KEY] = "internal_error"
        return JSONResponse(
            {"error": {"code": "internal_error", "message": "internal error; see the server log"}},
            status_code=500,
        )


PREDICT_PATH = "/v1/predict"
DRAIN_MIN_BYTES = 16 << 20
DRAIN_SECONDS = 10.0
"""A body over the limit is still read and dropped, up to max(4 x max_body_bytes,
DRAIN_MIN_BYTES) bytes and DRAIN_SECONDS, before the 413: a client that sends its whole body
before it reads (Python's http.client, requests, httpx) then reads the 413, not a reset."""
Predict = Callable[[bytes, Scope], Awaitable[bytes]]


class Gate:
    """The ASGI layer in front of the app: API key, body size limit, metrics, access log, and
    ``POST /v1/predict`` answered directly.

    Written as plain ASGI (not Starlette's ``BaseHTTPMiddleware``, which costs a task per
    request) so that the hot path stays short. The body is read here, counted against
    ``max_body_bytes`` (413 beyond, once the rest is read and dropped: DRAIN_SECONDS) and
    handed on.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ServeSettings,
        api_key: bytes | None,
        metrics: Metrics,
        predict: Predict,
    ) -> None:
        self.app = app
        self.settings = settings
        self.api_key = api_key
        self.metrics = metrics
        self.predict = predict

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        answered = [500]

        async def send_and_see(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered[0] = message["status"]
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None and scope["path"] == PREDICT_PATH and scope["method"] != "POST":
                refusal = (
                    405,
                    "method_not_allowed",
                    f"{scope['method']} is not allowed on {PREDICT_PATH}; POST texts to it",
                    {"Allow": "POST"},
                )
            body = b""
            if refusal is None and scope["method"] in ("POST", "PUT", "PATCH"):
                body, refusal = await self._read_body(scope, receive)
            if refusal is not None:
                status, code, message, headers = refusal
                scope[_ERROR_KEY] = code
                await _send_error(send_and_see, status, code, message, headers)
            elif scope["path"] == PREDICT_PATH:
                await self._predict(scope, body, send_and_see)
            else:
                if scope["method"] in ("POST", "PUT", "PATCH"):
                    receive = _replay(body, receive)
                await self.app(scope, receive, send_and_see)
        finally:
            self._record(scope, answered[0], time.perf_counter() - start)

    async def _predict(self, scope: Scope, body: bytes, send: Send) -> None:
        try:
            payload = await self.predict(body, scope)
        except ApiError as error:
            scope[_ERROR_KEY] = error.code
            retry = {"Retry-After": "1"} if error.status == 503 else {}
            await _send_error(send, error.status, error.code, error.message, retry)
            return
        except Exception:
            log.exception("internal error")
            scope[_ERROR_KEY] = "internal_error"
            message = "internal error; see the server log"
            await _send_error(send, 500, "internal_error", message, {})
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _refusal(self, scope: Scope) -> tuple[int, str, str, dict[str, str]] | None:
        """401 without the right API key (every path but the probes)."""
        if self.api_key is None or scope["path"] in OPEN_PATHS:
            return None
        given = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = token.strip()
            elif name == b"x-api-key":
                given = value.strip()
        if given is None:
            return (
                401,
                "unauthorized",
                "this server needs an API key: send 'Authorization: Bearer KEY' "
                "(or 'X-API-Key: KEY')",
                {"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(given, self.api_key):  # constant time
            return (
                401,
                "unauthorized",
                "the API key is not valid; send the key the server was started with",
                {"WWW-Authenticate": "Bearer"},
            )
        return None

    async def _read_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[bytes, tuple[int, str, str, dict[str, str]] | None]:
        limit = self.settings.max_body_bytes
        too_large = (
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
                    return b"", (400, "bad_request", "Content-Length is not a number", {})
            elif name == b"expect":
                waits = value.lower() == b"100-continue"
        if declared is not None and declared > limit:
            if not waits and declared <= drain:
                await _drain(receive, drain)
            return b"", too_large
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
                return b"", too_large
            chunks.append(chunk)
            if not more:
                break
        return b"".join(chunks), None

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        path = scope["path"] if scope["path"] in ROUTES else "other"
        metrics = self.metrics
        metrics.requests.labels(path=path, method=scope["method"], status=status).inc()
        metrics.latency.labels(path=path).observe(seconds)
        code = scope.get(_ERROR_KEY)
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
            if _TEXTS_KEY in scope:
                fields["texts"] = scope[_TEXTS_KEY]
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


async def _send_error(
    send: Send, status: int, code: str, message: str, headers: dict[str, str]
) -> None:
    body = error_body(code, message)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
