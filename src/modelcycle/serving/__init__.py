"""Serving: an ONNX model directory behind a latency-first HTTP API (FastAPI on uvicorn).

::

    from modelcycle.serving import ServeSettings, create_app, serve

    app = create_app("onnx_model/", settings=ServeSettings(max_batch=32))   # an ASGI app
    serve("onnx_model/", ServeSettings(host="0.0.0.0", port=8000, workers=2))  # blocks

Inference runs on ONNX Runtime with modelcycle's own preprocessing (:mod:`modelcycle.features`)
and post-processing (:mod:`modelcycle.postprocess`), so that a serving image needs neither
PyTorch, scikit-learn nor scipy. One session is created at start and warmed up before
``/readyz`` answers 200; concurrent requests are merged into one model call by a dynamic
micro-batcher (``max_batch``, ``max_wait_ms``).
"""

from modelcycle.serving._app import create_app
from modelcycle.serving._batcher import MicroBatcher
from modelcycle.serving._model import ServedModel
from modelcycle.serving._schema import ErrorResponse, PredictResponse
from modelcycle.serving._server import app_from_environment, log_config, serve
from modelcycle.serving._settings import ServeSettings

__all__ = [
    "ErrorResponse",
    "MicroBatcher",
    "PredictResponse",
    "ServeSettings",
    "ServedModel",
    "app_from_environment",
    "create_app",
    "log_config",
    "serve",
]
