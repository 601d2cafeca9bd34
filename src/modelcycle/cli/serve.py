"""``modelcycle serve``: an ONNX model directory behind the HTTP API, until Ctrl+C or SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import config_from_flags, handle_errors

OnnxModel = Annotated[
    Path,
    typer.Argument(
        help="ONNX model directory written by `modelcycle export MODEL -o DIR` or "
        "`modelcycle quantize` (a trained model's own directory: export it first)."
    ),
]
Host = Annotated[str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
Workers = Annotated[
    int, typer.Option(help="Server processes, each with its own model (uses more cores).")
]
MaxBatch = Annotated[
    int,
    typer.Option(
        help="Most texts one model call merges from concurrent requests (1: off, each "
        "request's call runs at once)."
    ),
]
MaxWaitMs = Annotated[
    float,
    typer.Option(
        help="How long a batch may wait for more requests (0: never wait, merge only what "
        "queued while the model was busy)."
    ),
]
MaxBodyBytes = Annotated[int, typer.Option(help="Largest request body (413 beyond).")]
MaxTexts = Annotated[int, typer.Option(help="Most texts per request (413 beyond).")]
MaxTextChars = Annotated[int, typer.Option(help="Most characters per text (413 beyond).")]
MaxHeaderBytes = Annotated[
    int, typer.Option(help="Most bytes of a request line and headers (431 beyond).")
]
HeaderTimeout = Annotated[
    float,
    typer.Option(
        "--header-timeout",
        help="Seconds a request's line and headers may take to arrive (408 and the "
        "connection closed beyond).",
    ),
]
ApiKeyEnv = Annotated[
    str | None,
    typer.Option(
        help="Environment variable holding an API key; requests then need "
        "'Authorization: Bearer KEY' (the probes /healthz and /readyz stay open)."
    ),
]
Threads = Annotated[int, typer.Option(help="ONNX Runtime threads per model call.")]
AccessLog = Annotated[bool, typer.Option(help="One JSON line per request on stderr.")]
Name = Annotated[
    str | None, typer.Option(help="The model's name in answers (default: the directory's).")
]


@handle_errors
def serve(
    ctx: typer.Context,
    model: OnnxModel,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
    max_batch: MaxBatch = 32,
    max_wait_ms: MaxWaitMs = 0.0,
    max_body_bytes: MaxBodyBytes = 1 << 20,
    max_texts: MaxTexts = 256,
    max_text_chars: MaxTextChars = 50_000,
    max_header_bytes: MaxHeaderBytes = 32 << 10,
    header_timeout_s: HeaderTimeout = 10.0,
    api_key_env: ApiKeyEnv = None,
    threads: Threads = 1,
    access_log: AccessLog = True,
    name: Name = None,
) -> None:
    """Serve an ONNX model over HTTP: POST /v1/predict, GET /v1/model, /healthz, /readyz,
    /metrics and /openapi.json; logs are JSON lines on stderr.

    Example: modelcycle serve onnx_model/ --port 8000
    """
    from modelcycle.serving import ServeSettings  # deferred: uvicorn and ONNX Runtime load late
    from modelcycle.serving import serve as run_server

    run_server(model, config_from_flags(ServeSettings, ctx.params))
