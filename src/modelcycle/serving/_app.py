"""The HTTP API (FastAPI): predict, model, health, readiness, metrics and OpenAPI.

::

    POST /v1/predict   {"texts": ["...", ...]} -> {"predictions": [{"label", "scores"}], "model"}
    GET  /v1/model     the model's identity, labels, post-processing, limits and batching
    GET  /healthz      alive (always 200 while the process answers; HEAD too)
    GET  /readyz       200 once the model is loaded and warmed up, 503 before (HEAD too)
    GET  /metrics      Prometheus text format
    GET  /openapi.json the OpenAPI schema (and /docs: Swagger UI, its files served here)

The app is put together here from its parts: the pydantic models (:mod:`._schema`), the routes
(:mod:`._routes`), the one error path (:mod:`._errors`) and the ASGI layer in front
(:mod:`._gate`: API key, body limit, metrics, access log, the predict fast path). Every error is
``{"error": {"code": "...", "message": "..."}}`` with a 4xx status for a bad request and never a
500 for bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from modelcycle._version import __version__
from modelcycle.serving._batcher import MicroBatcher
from modelcycle.serving._errors import add_error_handlers
from modelcycle.serving._gate import Gate
from modelcycle.serving._metrics import Metrics
from modelcycle.serving._model import ServedModel
from modelcycle.serving._routes import Predictor, Readiness, add_routes
from modelcycle.serving._settings import ServeSettings

__all__ = ["create_app"]

log = logging.getLogger("modelcycle.serving")


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
    readiness = Readiness()
    predictor = Predictor(
        batcher=batcher, settings=settings, identity=model.info, readiness=readiness
    )
    app = FastAPIOffline(  # /docs with Swagger UI's own files, served here: it works offline
        title="modelcycle",
        version=__version__,
        description=f"Text classification with the ONNX model {model.info['name']!r}.",
        lifespan=_lifespan(model, batcher, metrics, readiness),
        redoc_url=None,
    )
    app.state.model = model
    app.state.settings = settings
    app.state.readiness = readiness
    app.state.batcher = batcher
    add_routes(app, predictor, metrics, description)
    add_error_handlers(app)
    app.add_middleware(
        Gate, settings=settings, api_key=api_key, metrics=metrics, predictor=predictor
    )
    return app


def _lifespan(
    model: ServedModel, batcher: MicroBatcher, metrics: Metrics, readiness: Readiness
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan: warm the model up (then ready), and on the way out stop answering
    and let the micro-batcher finish what is queued."""

    async def warm_up() -> None:
        seconds = await asyncio.get_running_loop().run_in_executor(None, model.warm_up)
        readiness.ready, readiness.warmup_seconds = True, round(seconds, 3)
        metrics.ready.set(1)
        log.info("ready", extra={"fields": {"model": model.info, "warmup_seconds": seconds}})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warming = asyncio.create_task(warm_up())
        try:
            yield
        finally:
            readiness.ready = False
            metrics.ready.set(0)
            with contextlib.suppress(asyncio.CancelledError):
                await warming
            await batcher.close()

    return lifespan
