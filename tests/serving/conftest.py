"""Serving fixtures: tiny logreg and fasttext models exported as ONNX model directories, and an
in-process client (httpx's ASGI transport) around an app whose lifespan has run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelcycle.export import export_model
from modelcycle.models import make_model
from tests.conftest import NEGATIVE, POSITIVE

TEXTS = [t for pair in zip(POSITIVE, NEGATIVE, strict=True) for t in pair]
LABELS = ["positive", "negative"] * len(POSITIVE)
PARAMS: dict[str, dict[str, Any]] = {
    "logreg": {"min_df": 1},
    "fasttext": {"epochs": 20, "batch_size": 4, "buckets": 1000},
}


def export_tiny(family: str, out: Path) -> Path:
    """Train ``family`` on the 24 hand-written reviews and export it as an ONNX model directory."""
    model = make_model(family, PARAMS[family], seed=0).fit(TEXTS, LABELS)
    export_model(model, out)
    return out


@pytest.fixture(scope="session")
def logreg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny("logreg", tmp_path_factory.mktemp("serving") / "logreg-onnx")


@pytest.fixture(scope="session")
def fasttext_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tiny("fasttext", tmp_path_factory.mktemp("serving") / "fasttext-onnx")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def serving(app: FastAPI, *, ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` with its lifespan running (warm-up done unless ``ready=False``)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            if ready:
                await wait_ready(client)
            yield client


async def wait_ready(client: httpx.AsyncClient, *, seconds: float = 60.0) -> None:
    import anyio

    with anyio.fail_after(seconds):
        while (await client.get("/readyz")).status_code != 200:
            await anyio.sleep(0.01)


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = "s3cret-key-0123456789"
    monkeypatch.setenv("MODELCYCLE_TEST_KEY", key)
    return key


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(command: list[str], port: int) -> Iterator[Any]:
    """Start ``command`` (a server on ``port``), wait for /readyz, yield the process; stop it
    with SIGTERM on the way out (and kill it if it is still there after 30 s)."""
    import signal
    import subprocess
    import time

    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited early:\n{process.stderr.read()}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the server was not ready within 60 s")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
