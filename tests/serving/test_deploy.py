"""deploy/: the Dockerfile's stages, user, health check and command; the Kubernetes manifests'
probes, resources and security context; the image's command run outside Docker."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
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


def stages() -> dict[str, str]:
    """The Dockerfile's stages: name -> the image or stage it starts from."""
    return {s.split(" AS ")[1]: s.split(" AS ")[0] for s in instructions("FROM")}


def test_dockerfile_stages_start_from_one_base_image_and_run_as_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax=", text, flags=re.MULTILINE | re.IGNORECASE)
    assert "ARG BASE_IMAGE=python:3.11-slim" in text.splitlines()
    assert stages() == {
        "source": "${BASE_IMAGE}",
        "build": "source",
        "runtime": "${BASE_IMAGE}",
        "model": "runtime",  # the last stage: what a plain `docker build` makes
    }
    assert all(user.split(":")[0] not in ("0", "root") for user in instructions("USER"))
    assert len(instructions("USER")) == 1  # runtime's (model inherits it)
    (health,) = instructions("HEALTHCHECK")
    assert "/healthz" in health
    assert instructions("COPY")[-1] == "--chown=0:0 ${MODEL} /model"  # root's: read-only
    assert json.loads(instructions("CMD")[-1]) == [
        "modelcycle",
        "serve",
        "/model",
        "--host",
        "0.0.0.0",
    ]
    # ONNX Runtime's warning about an unwritable home would break the JSON-lines log
    assert all("HOME=/tmp" in env for env in instructions("ENV")[-2:])


def test_the_serving_environment_is_the_serve_extra_only_pinned_by_constraints() -> None:
    build = [args for key, args in dockerfile() if key == "RUN"][1]
    assert "pip install -r serve-requirements.txt" in build
    assert "pip install --no-deps ." in build  # modelcycle without its training dependencies
    assert "torch" not in build.replace("'torch' not in sys.modules", "")


def test_pip_can_be_pointed_at_a_mirror_a_wheel_folder_and_a_ca_bundle() -> None:
    args = {
        a.split("=", 1)[0]: a.split("=", 1)[1] if "=" in a else None for a in instructions("ARG")
    }
    assert args["PIP_INDEX_URL"] == "https://pypi.org/simple"
    assert {"PIP_EXTRA_INDEX_URL", "WHEELS", "PIP_CERT"} <= args.keys()
    source = next(args for key, args in dockerfile() if key == "RUN")
    config = subprocess.run(
        ["sh", "-c", source.split(" && ")[0].replace("/etc/pip.conf", "/dev/stdout")],
        env={
            "PIP_INDEX_URL": "https://mirror/simple",
            "PIP_EXTRA_INDEX_URL": "",
            "PIP_CERT": "deploy/certs/ca.pem",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert config.splitlines() == [
        "[global]",
        "index-url = https://mirror/simple",
        "cert = /src/deploy/certs/ca.pem",  # the extra index is left out when empty
        "find-links = /src/wheels",
        "constraint = /src/constraints.txt",
        "no-cache-dir = true",
        "disable-pip-version-check = true",
    ]
    assert (ROOT / "deploy" / "wheels").is_dir()
    assert (ROOT / "deploy" / "certs").is_dir()
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (backend,) = build_system["build-system"]["requires"]
    assert re.fullmatch(r"hatchling==[\d.]+", backend)  # the build tool pinned


def test_the_build_context_leaves_out_what_serving_does_not_need(tmp_path: Path) -> None:
    from docker.utils.build import exclude_paths  # docker's own .dockerignore matching

    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in (
        ".venv/lib/x.py",
        ".git/HEAD",
        "tests/t.py",
        "bench/b.py",
        "data/d.csv",
        "m.parquet",
        "src/modelcycle/__pycache__/a.pyc",
        "model.checkpoints/e.json",
        "src/modelcycle/__init__.py",
        "pyproject.toml",
        "onnx_model/model.onnx",
        "deploy/wheels/README.md",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    sent = exclude_paths(str(tmp_path), patterns)
    assert {p.replace(os.sep, "/") for p in sent if (tmp_path / p).is_file()} == {
        "src/modelcycle/__init__.py",
        "pyproject.toml",
        "onnx_model/model.onnx",
        "deploy/wheels/README.md",
    }


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
    command = json.loads(instructions("CMD")[-1])
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


def docker_client() -> Any:
    """A client of the Docker daemon, or a skip saying why there is none."""
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker daemon reachable (DOCKER_HOST or /var/run/docker.sock): {exc}")
    return client


def require_image(client: Any, name: str) -> None:
    """Pull ``name`` unless the daemon has it, or skip saying why it cannot be had (a daemon
    without Docker Hub: set MODELCYCLE_TEST_BASE_IMAGE to a local Python 3.11 image)."""
    import docker

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        try:
            client.images.pull(name)
        except docker.errors.APIError as exc:
            pytest.skip(
                f"base image {name} is not on the Docker daemon and cannot be pulled "
                f"(set MODELCYCLE_TEST_BASE_IMAGE to a local one): {exc.explanation or exc}"
            )


def build_context(extra: dict[str, Path]) -> io.BytesIO:
    """The repository root as `docker build` sends it (.dockerignore applied), plus ``extra``
    files (path in the context -> file here)."""
    from docker.utils.build import exclude_paths

    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for path in sorted(exclude_paths(str(ROOT), patterns)):
            if (ROOT / path).is_file():
                tar.add(ROOT / path, arcname=path)
        for arcname, source in extra.items():
            tar.add(source, arcname=arcname)
    context.seek(0)
    return context


def test_the_image_builds_and_serves_as_a_non_root_user(logreg_dir: Path) -> None:
    """Builds the `runtime` target and serves a mounted model. For a machine without Docker Hub
    or with a TLS-intercepting proxy: MODELCYCLE_TEST_BASE_IMAGE names the base image,
    PIP_INDEX_URL the index, and the CA bundle that pip trusts here (PIP_CERT) goes along."""
    client = docker_client()
    base = os.environ.get("MODELCYCLE_TEST_BASE_IMAGE", "python:3.11-slim")
    require_image(client, base)
    build_args, extra = {"BASE_IMAGE": base}, {}
    if os.environ.get("PIP_INDEX_URL", "").startswith("http"):
        build_args["PIP_INDEX_URL"] = os.environ["PIP_INDEX_URL"]
    if os.environ.get("PIP_CERT"):
        extra["deploy/certs/test-ca.pem"] = Path(os.environ["PIP_CERT"])
        build_args["PIP_CERT"] = "deploy/certs/test-ca.pem"
    image, _ = client.images.build(
        fileobj=build_context(extra),
        custom_context=True,
        dockerfile="deploy/Dockerfile",
        target="runtime",
        buildargs=build_args,
        tag="modelcycle-serve-test:latest",
        rm=True,
    )
    port = free_port()
    container = client.containers.run(
        image.id,
        detach=True,
        read_only=True,
        tmpfs={"/tmp": ""},
        volumes={str(logreg_dir): {"bind": "/model", "mode": "ro"}},
        ports={"8000/tcp": ("127.0.0.1", port)},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, container.logs().decode()
            time.sleep(0.5)
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/predict", json={"texts": ["great"]})
        user = container.exec_run(["python", "-c", "import os; print(os.getuid())"])
    finally:
        container.stop(timeout=30)
        logs = container.logs(stdout=False, stderr=True).decode()
        container.remove()
    assert answer.json()["predictions"][0]["label"] == "positive"
    assert int(user.output) == 10001
    assert logs.strip()
    assert all(json.loads(line) for line in logs.splitlines() if line.strip())
