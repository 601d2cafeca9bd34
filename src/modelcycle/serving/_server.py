"""Running the app: uvicorn (its httptools protocol with modelcycle's limits on request heads,
:mod:`modelcycle.serving._protocol`; uvloop when installed), JSON logs, several workers.

The address is bound here, before uvicorn runs, so that a port in use or an unknown host is one
ConfigError (``cannot listen on HOST:PORT: why``), not uvicorn's exit after its start-up logs.
With one worker the app is built in this process (a bad model directory fails before a port is
opened). With ``workers > 1`` uvicorn starts that many processes, each building its own app from
``MODELCYCLE_SERVE`` (the model directory and the settings as JSON, set here) through
:func:`app_from_environment`; Prometheus' multiprocess mode then adds up their metrics.
SIGTERM or Ctrl+C stops accepting connections, finishes the requests in flight (at most
``graceful_timeout_s``), then stops the micro-batcher and exits.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from modelcycle.exceptions import ConfigError
from modelcycle.serving._model import ServedModel
from modelcycle.serving._settings import ServeSettings

__all__ = [
    "ENVIRONMENT",
    "JsonFormatter",
    "app_from_environment",
    "listen",
    "log_config",
    "serve",
]

ENVIRONMENT = "MODELCYCLE_SERVE"
"""The variable through which worker processes receive the model directory and settings."""


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: time, level, logger, message and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def log_config(*, access_log: bool = True) -> dict[str, Any]:
    """``logging.config.dictConfig`` settings: JSON lines on stderr for uvicorn and modelcycle."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "modelcycle": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "modelcycle.access": {
                "handlers": ["stderr"],
                "level": "INFO" if access_log else "WARNING",
                "propagate": False,
            },
        },
    }


def serve(model_dir: str | Path, settings: ServeSettings | None = None) -> None:
    """Serve the ONNX model directory ``model_dir`` until SIGTERM or Ctrl+C.

    The model is loaded (and verified) first, then the address is bound: a bad model or an
    address that cannot be listened on (a port in use, an unknown host) is an error here,
    before anything runs or logs.

    Example::

        serve("onnx_model/", ServeSettings(port=8000, workers=2))
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from modelcycle.serving._app import create_app
    from modelcycle.serving._protocol import ServerConfig

    settings = settings or ServeSettings()
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "max_header_bytes": settings.max_header_bytes,
        "header_timeout_s": settings.header_timeout_s,
        "log_config": log_config(access_log=settings.access_log),
        "access_log": False,  # modelcycle's own access log is the JSON one
        "server_header": False,
        "timeout_graceful_shutdown": settings.graceful_timeout_s,
        "lifespan": "on",
        "ws": "none",  # no WebSocket routes: an upgrade request is answered as plain HTTP
        "workers": settings.workers,
    }
    if settings.workers == 1:
        app = create_app(model_dir, settings=settings)
        with listen(settings.host, settings.port) as sock:
            config = ServerConfig(app, **options)  # sets up the JSON logs
            _log_listening(sock)
            if threading.current_thread() is threading.main_thread():
                # uvicorn raises SIGTERM again once its graceful shutdown is done; exit 0 then
                signal.signal(signal.SIGTERM, _exit_cleanly)
            uvicorn.Server(config).run(sockets=[sock])
        return
    ServedModel.load(model_dir, threads=settings.threads)  # fail here, not in N workers
    settings.api_key()
    with listen(settings.host, settings.port) as sock:
        metrics_dir = tempfile.mkdtemp(prefix="modelcycle-metrics-")
        os.environ[ENVIRONMENT] = json.dumps(
            {"model_dir": str(Path(model_dir).resolve()), "settings": settings.to_json()}
        )
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        config = ServerConfig(f"{__name__}:app_from_environment", factory=True, **options)
        _log_listening(sock)
        try:
            Multiprocess(config, sockets=[sock]).run()
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (not yet listening), or a ConfigError that says
    why not: ``cannot listen on 127.0.0.1:8000: Address already in use``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        raise ConfigError(
            f"cannot listen on {shown}:{port}: {exc.strerror or exc}; choose another port or host"
        ) from exc
    sock.set_inheritable(True)  # the worker processes share it
    return sock


def _log_listening(sock: socket.socket) -> None:
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if sock.family == socket.AF_INET6 else f"http://{host}:{port}"
    logging.getLogger("modelcycle.serving").info("listening", extra={"fields": {"url": url}})


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def app_from_environment() -> Any:
    """The app of one worker process, from the ``MODELCYCLE_SERVE`` variable that
    :func:`serve` sets (uvicorn's factory for ``--workers N``)."""
    from modelcycle.serving._app import create_app

    raw = os.environ.get(ENVIRONMENT)
    if not raw:
        raise ConfigError(
            f"{ENVIRONMENT} is not set; start the server with `modelcycle serve MODEL`"
        )
    try:
        document = json.loads(raw)
        model_dir = document["model_dir"]
        settings = ServeSettings.from_json(document["settings"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{ENVIRONMENT} is not valid ({exc})") from exc
    return create_app(model_dir, settings=settings)
