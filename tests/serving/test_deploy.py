"""deploy/: the Dockerfile's stages, user, health check and command; the Kubernetes manifests'
probes, resources and security context; the image's command run outside Docker."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.serving.conftest import free_port, running_server

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
TRAINING_STACK = {"torch", "scikit-learn", "scipy", "matplotlib", "cleanlab"}


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def instructions(keyword: str) -> list[str]:
    return [args for key, args in dockerfile() if key == keyword]


def manifests() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            documents[document["kind"]] = document
    return documents


def test_dockerfile_is_multi_stage_slim_non_root_with_a_health_check() -> None:
    stages = instructions("FROM")
    assert len(stages) >= 2
    assert all(re.match(r"(python:\$\{PYTHON_VERSION\}-slim|runtime) AS \w+", s) for s in stages)
    assert [s.split(" AS ")[1] for s in stages] == ["build", "runtime", "model"]
    (user,) = instructions("USER")
    assert user.split(":")[0] not in ("0", "root")
    (health,) = instructions("HEALTHCHECK")
    assert "/healthz" in health
    install = " ".join(instructions("RUN"))
    assert "-c constraints.txt -r serve-requirements.txt" in install
    assert "--no-deps ." in install  # modelcycle without its training dependencies
    assert "torch" not in install.replace("'torch' not in sys.modules", "")
    assert instructions("COPY")[-1] == "--chown=0:0 ${MODEL} /model"  # root's: read-only
    assert json.loads(instructions("CMD")[0]) == [
        "modelcycle",
        "serve",
        "/model",
        "--host",
        "0.0.0.0",
    ]


def test_the_serve_extra_carries_no_training_stack() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    serve = pyproject["project"]["optional-dependencies"]["serve"]
    names = {re.split(r"[<>=;\[ ]", requirement)[0].lower() for requirement in serve}
    assert names >= {"fastapi", "uvicorn", "onnxruntime", "prometheus-client"}
    assert not names & TRAINING_STACK


def test_deployment_probes_resources_and_security() -> None:
    deployment = manifests()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    port = container["ports"][0]
    assert (port["name"], port["containerPort"]) == ("http", 8000)
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    # a read-only root filesystem needs a writable /tmp (Prometheus' files with --workers)
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    assert pod["terminationGracePeriodSeconds"] > 30  # the server's graceful shutdown
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert labels.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_service_and_autoscaler_point_at_the_deployment() -> None:
    documents = manifests()
    deployment, service, hpa = (
        documents[k] for k in ("Deployment", "Service", "HorizontalPodAutoscaler")
    )
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_the_images_command_serves_a_model_directory(logreg_dir: Path) -> None:
    """The CMD as the container runs it, with the model at a temporary path, on a free loopback
    port (the container listens on every interface of its own network namespace)."""
    command = json.loads(instructions("CMD")[0])
    port = free_port()
    args = [str(logreg_dir) if a == "/model" else a for a in command[1:]]
    args = ["127.0.0.1" if a == "0.0.0.0" else a for a in args]
    executable = Path(sys.executable).parent / command[0]
    assert executable.is_file(), f"{command[0]} is not installed beside {sys.executable}"
    with running_server([str(executable), *args, "--port", str(port)], port):
        health = httpx.get(f"http://127.0.0.1:{port}/healthz")
        # the HEALTHCHECK's own command, pointed at this port
        (check,) = instructions("HEALTHCHECK")
        exec_form = json.loads(check[check.index("CMD") + 3 :].strip())
        probe = [a.replace("8000", str(port)) for a in exec_form]
        assert probe[0] == "python"
        done = subprocess.run([sys.executable, *probe[1:]], capture_output=True, timeout=10)
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/predict", json={"texts": ["great"]})
    assert health.json() == {"status": "ok"}
    assert done.returncode == 0, done.stderr
    assert answer.json()["predictions"][0]["label"] == "positive"


def test_readme_documents_build_and_run() -> None:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    commands = [
        line.removeprefix("$ ")
        for chunk in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL)
        for line in chunk.splitlines()
        if line.startswith("$ ")
    ]
    assert any(shlex.split(c)[:2] == ["docker", "build"] for c in commands)
    assert any(shlex.split(c)[:2] == ["docker", "run"] for c in commands)
    assert any(c.startswith("kubectl apply -f deploy/kubernetes/") for c in commands)
    assert "-f deploy/Dockerfile" in " ".join(commands)
