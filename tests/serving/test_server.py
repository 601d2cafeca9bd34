"""The real server: `modelcycle serve` in a subprocess on a free loopback port, stopped by
SIGTERM; and the serving path without the training stack."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import free_port, running_server

MODELCYCLE = [sys.executable, "-m", "modelcycle"]


def test_modelcycle_serve_answers_and_stops_gracefully_on_sigterm(logreg_dir: Path) -> None:
    port = free_port()
    command = [*MODELCYCLE, "serve", str(logreg_dir), "--port", str(port), "--name", "tiny"]
    with running_server(command, port) as process:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:
            answer = client.post("/v1/predict", json={"texts": ["a wonderful film", "awful"]})
            health = client.get("/healthz")
            model = client.get("/v1/model")
        # a request in flight when SIGTERM arrives is still answered: its body is half sent
        body = json.dumps({"texts": ["a wonderful, brilliant film"] * 50}).encode()
        started, release = threading.Event(), threading.Event()

        def slow_body() -> Iterator[bytes]:
            yield body[:10]
            started.set()
            release.wait(10)
            yield body[10:]

        late: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: late.append(
                httpx.post(f"{base}/v1/predict", content=slow_body(), timeout=30)
            )
        )
        sender.start()
        assert started.wait(10)
        time.sleep(0.3)
        process.terminate()
        time.sleep(0.3)
        assert process.poll() is None  # still finishing the request in flight
        release.set()
        sender.join(30)
        code = process.wait(30)
        stderr = process.stderr.read()  # type: ignore[union-attr]
    assert answer.status_code == 200
    assert [p["label"] for p in answer.json()["predictions"]] == ["positive", "negative"]
    assert answer.json()["model"]["name"] == "tiny"
    assert health.json() == {"status": "ok"}
    assert model.json()["labels"] == ["negative", "positive"]
    assert code == 0, stderr
    assert late[0].status_code == 200
    assert len(late[0].json()["predictions"]) == 50
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    predicted = [x for x in lines if x.get("path") == "/v1/predict"]
    assert [(x["method"], x["status"], x["texts"]) for x in predicted] == [
        ("POST", 200, 2),
        ("POST", 200, 50),
    ]
    assert any(x["message"] == "ready" for x in lines)


def test_serve_refuses_a_bad_model_directory_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*MODELCYCLE, "serve", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "missing" in done.stderr
    assert "Traceback" not in done.stderr


def test_several_workers_add_up_their_metrics(logreg_dir: Path) -> None:
    port = free_port()
    command = [*MODELCYCLE, "serve", str(logreg_dir), "--port", str(port), "--workers", "2"]
    with running_server(command, port), httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        statuses = [c.post("/v1/predict", json={"texts": ["great"]}).status_code for _ in range(6)]
        metrics = c.get("/metrics").text
    assert statuses == [200] * 6
    assert 'modelcycle_requests_total{method="POST",path="/v1/predict",status="200"} 6.0' in metrics


SERVING_CODE = """
import json, sys
started = set(sys.modules)  # the interpreter's own (and site's .pth files')
from modelcycle.cli import app
from modelcycle.serving import create_app
import uvicorn.loops.uvloop, uvicorn.protocols.http.httptools_impl
server = create_app(sys.argv[1])
label = server.state.model.predict(["a wonderful film"])[0]["label"]
modules = sorted({m.split(".")[0] for m in set(sys.modules) - started})
print(json.dumps({"label": label, "modules": modules}))
"""


def requirement_closure(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` install, with their dependencies (no extras)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    stack = [Requirement(r) for r in requirements]
    while stack:
        requirement = stack.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        stack.extend(Requirement(r) for r in metadata.requires(name) or [])
    return seen


@pytest.mark.parametrize("family", ["logreg", "fasttext"])
def test_serving_needs_only_the_serve_extra(
    family: str, logreg_dir: Path, fasttext_dir: Path
) -> None:
    """What `modelcycle serve` imports for an exported model comes from the serve extra (what
    deploy/Dockerfile installs): neither torch nor scikit-learn, scipy or pyarrow."""
    import tomllib
    from importlib import metadata

    from packaging.utils import canonicalize_name

    model_dir = {"logreg": logreg_dir, "fasttext": fasttext_dir}[family]
    done = subprocess.run(
        [sys.executable, "-c", SERVING_CODE, str(model_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    answer = json.loads(done.stdout)
    assert answer["label"] == "positive"
    modules = set(answer["modules"])
    assert not modules & {"torch", "sklearn", "scipy", "pyarrow", "matplotlib", "pandas"}
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    allowed = requirement_closure(pyproject["project"]["optional-dependencies"]["serve"])
    owners = metadata.packages_distributions()
    # a namespace package (opentelemetry) is shared by several distributions: one allowed suffices
    owned = {m: {canonicalize_name(d) for d in owners.get(m, [])} for m in modules}
    used = {d for m in modules if not owned[m] & allowed for d in owned[m]}
    assert used - allowed - {"modelcycle"} == set()
