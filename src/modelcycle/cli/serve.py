"""``modelcycle serve``: an ONNX model directory behind the HTTP API, until Ctrl+C or SIGTERM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelcycle.cli._common import handle_errors


@handle_errors
def serve(
    model: Annotated[
        Path,
        typer.Argument(
            help="ONNX model directory written by `modelcycle export MODEL -o DIR` or "
            "`modelcycle quantize` (a trained model's own directory: export it first)."
        ),
    ],
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes, each with its own model (uses more cores).")
    ] = 1,
    max_batch: Annotated[
        int,
        typer.Option(
            help="Most texts one model call merges from concurrent requests (1: off, each "
            "request's call runs at once)."
        ),
    ] = 32,
    max_wait_ms: Annotated[
        float,
        typer.Option(
            help="How long a batch may wait for more requests (0: never wait, merge only what "
            "queued while the model was busy)."
        ),
    ] = 0.0,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body (413 beyond).")] = (
        1 << 20
    ),
    max_texts: Annotated[int, typer.Option(help="Most texts per request (413 beyond).")] = 256,
    max_text_chars: Annotated[
        int, typer.Option(help="Most characters per text (413 beyond).")
    ] = 50_000,
    max_header_bytes: Annotated[
        int, typer.Option(help="Most bytes of a request line and headers (431 beyond).")
    ] = 32 << 10,
    header_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a request's line and headers may take to arrive (408 and the "
            "connection closed beyond)."
        ),
    ] = 10.0,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding an API key; requests then need "
            "'Authorization: Bearer KEY' (the probes /healthz and /readyz stay open)."
        ),
    ] = None,
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads per model call.")] = 1,
    access_log: Annotated[bool, typer.Option(help="One JSON line per request on stderr.")] = True,
    name: Annotated[
        str | None, typer.Option(help="The model's name in answers (default: the directory's).")
    ] = None,
) -> None:
    """Serve an ONNX model over HTTP: POST /v1/predict, GET /v1/model, /healthz, /readyz,
    /metrics and /openapi.json; logs are JSON lines on stderr.

    Example: modelcycle serve onnx_model/ --port 8000
    """
    from modelcycle.serving import ServeSettings
    from modelcycle.serving import serve as run_server

    settings = ServeSettings(
        host=host,
        port=port,
        workers=workers,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_body_bytes=max_body_bytes,
        max_texts=max_texts,
        max_text_chars=max_text_chars,
        max_header_bytes=max_header_bytes,
        header_timeout_s=header_timeout,
        api_key_env=api_key_env,
        threads=threads,
        access_log=access_log,
        name=name,
    )
    run_server(model, settings)
