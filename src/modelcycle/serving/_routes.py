"""The API's routes: predict, model, health, readiness and metrics (FastAPI).

``POST /v1/predict`` is a FastAPI route declared from the pydantic models of
:mod:`modelcycle.serving._schema`, so FastAPI writes its OpenAPI operation. Its work is done by a
:class:`Predictor`, which the fast path of :mod:`modelcycle.serving._gate` calls too: both
validate with the same request model and answer with the same response model.
"""

# no ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations, and
# the request model is made per app
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from modelcycle.serving._batcher import MicroBatcher, ShuttingDown
from modelcycle.serving._errors import ApiError, invalid, responses
from modelcycle.serving._metrics import CONTENT_TYPE, Metrics
from modelcycle.serving._schema import ModelIdentity, PredictResponse, limits_text, request_model
from modelcycle.serving._settings import ServeSettings

__all__ = ["PREDICT_PATH", "TEXTS_KEY", "Predictor", "Readiness", "add_routes"]

PREDICT_PATH = "/v1/predict"
TEXTS_KEY = "modelcycle.texts"
"""Where the number of texts a request held is left in the ASGI scope (for the access log)."""


@dataclass
class Readiness:
    """Whether the model is warmed up (and not shutting down), and how long warm-up took."""

    ready: bool = False
    warmup_seconds: float | None = None


class Predictor:
    """The work of ``POST /v1/predict``: the request limits, readiness, the micro-batcher, and
    the answer as a :class:`PredictResponse`."""

    def __init__(
        self,
        *,
        batcher: MicroBatcher,
        settings: ServeSettings,
        identity: dict[str, Any],
        readiness: Readiness,
    ) -> None:
        self.batcher = batcher
        self.settings = settings
        self.identity = ModelIdentity.model_validate(identity)
        self.readiness = readiness
        self.request_model = request_model(settings)

    async def answer(self, texts: list[str], scope: MutableMapping[str, Any]) -> PredictResponse:
        """One prediction per text, or an ApiError (413 over a limit, 503 when not ready)."""
        scope[TEXTS_KEY] = len(texts)
        settings = self.settings
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
        if not self.readiness.ready:
            raise ApiError(
                503, "not_ready", "the model is warming up or shutting down; retry in a moment"
            )
        try:
            records = await self.batcher.submit(texts)
        except ShuttingDown:
            raise ApiError(503, "shutting_down", "the server is stopping; retry") from None
        return PredictResponse.model_validate({"predictions": records, "model": self.identity})

    async def answer_json(self, body: bytes, scope: MutableMapping[str, Any]) -> bytes:
        """:meth:`answer` for a raw body: parsed and validated in one pass by pydantic-core,
        whatever the Content-Type says (curl -d sends a form type); every failure is a 4xx."""
        try:
            texts = self.request_model.model_validate_json(body).texts
        except ValidationError as exc:
            raise invalid(exc.errors()) from None
        response = await self.answer(texts, scope)
        return response.model_dump_json().encode("utf-8")


def add_routes(
    app: FastAPI, predictor: Predictor, metrics: Metrics, description: dict[str, Any]
) -> None:
    """The API's routes on ``app``."""
    settings, readiness = predictor.settings, predictor.readiness
    PredictRequest = predictor.request_model

    @app.post(
        PREDICT_PATH,
        summary="Classify one or more texts",
        description=limits_text(settings),
        operation_id="predict",
        response_model=PredictResponse,
        response_description="One prediction per text, in the order sent.",
        responses=responses(400, 401, 405, 413, 422, 503),
    )
    async def predict(body: PredictRequest, request: Request) -> PredictResponse:  # type: ignore[valid-type]
        return await predictor.answer(body.texts, request.scope)  # type: ignore[attr-defined]

    @app.get("/v1/model", summary="The model being served", responses=responses(401))
    async def model_info() -> dict[str, Any]:
        return {
            **description,
            "ready": readiness.ready,
            "warmup_seconds": readiness.warmup_seconds,
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
        "/readyz", summary="Ready: the model is loaded and warmed up", responses=responses(503)
    )
    async def readyz() -> dict[str, Any]:
        if not readiness.ready:
            raise ApiError(503, "not_ready", "the model is warming up")
        return {"status": "ready", "warmup_seconds": readiness.warmup_seconds}

    # probes that send HEAD get the GET answer's status and headers (the server drops the body)
    app.head("/healthz", include_in_schema=False)(healthz)
    app.head("/readyz", include_in_schema=False)(readyz)

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, **responses(401)},
    )
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)
